// How every command ends on a usage or config error: one line on stderr, no stack trace.
export const EXIT_USAGE = 2;

export function fail(message: string, code = EXIT_USAGE): never {
  process.stderr.write(`sidelight: ${message}\n`);
  process.exit(code);
}
