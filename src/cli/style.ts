// Terminal output for the live commands: colour only on a terminal (and never with NO_COLOR,
// or TERM=dumb; FORCE_COLOR turns it on), and tables whose columns line up.

export interface Paint {
  enabled: boolean;
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export function paint(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Paint {
  const enabled = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' ? true : Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
  const code = (open: number, close: number) => (s: string) => (enabled ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return { enabled, green: code(32, 39), yellow: code(33, 39), red: code(31, 39), cyan: code(36, 39), dim: code(2, 22), bold: code(1, 22) };
}

const ANSI = /\x1b\[[0-9;]*m/g;
export const visibleLength = (s: string) => s.replace(ANSI, '').length;

export function padEnd(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - visibleLength(s)));
}

export function padStart(s: string, width: number): string {
  return ' '.repeat(Math.max(0, width - visibleLength(s))) + s;
}

/** Rows of cells as aligned text; columns listed in `right` are right-aligned (numbers). */
export function table(header: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : right.has(i) ? padStart(c, widths[i]) : padEnd(c, widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function statusColour(p: Paint, status: number): (s: string) => string {
  if (status >= 500 || status === 0) return p.red;
  if (status >= 400) return p.yellow;
  if (status >= 300) return p.cyan;
  return p.green;
}
