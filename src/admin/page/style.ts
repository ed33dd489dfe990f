// The admin page's CSS: system fonts only, light and dark from the browser's preference.
export const STYLE = String.raw`
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --fg: #1d2330; --muted: #667085; --line: #d0d5dd;
  --ok: #1a7f37; --warn: #b35c00; --bad: #c62828; --rate: #2f6fde; --err: #c62828; --p50: #2f9e8f; --p99: #8e44ad; }
@media (prefers-color-scheme: dark) { :root { --bg: #12151b; --card: #1b2029; --fg: #e6e9ef; --muted: #98a2b3; --line: #2e3543; } }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; padding: 10px 20px; background: var(--card); border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0 12px 0 0; }
main { padding: 12px 20px 40px; max-width: 1400px; }
h2 { font-size: 15px; margin: 22px 0 8px; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; background: var(--muted); }
.badge.ok, .badge.closed { background: var(--ok); } .badge.bad, .badge.open { background: var(--bad); } .badge.half_open, .badge.warn { background: var(--warn); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card h3 { font: 600 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; margin: 0 0 4px; overflow-wrap: anywhere; }
.figures { font-size: 12px; color: var(--muted); margin-bottom: 6px; }
.figures b { color: var(--fg); font-weight: 600; }
.statuses .badge { margin-right: 4px; }
.charts { display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px; }
.chart { font-size: 11px; color: var(--muted); }
.chart svg { display: block; width: 100%; height: 56px; border-bottom: 1px solid var(--line); }
.chart path { fill: none; stroke-width: 1.5; vector-effect: non-scaling-stroke; }
.legend-p50 { color: var(--p50); } .legend-p99 { color: var(--p99); }
.rate { stroke: var(--rate); } .errors { stroke: var(--err); } .p50 { stroke: var(--p50); } .p99 { stroke: var(--p99); }
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); font-size: 12px; white-space: nowrap; }
td.path { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: normal; overflow-wrap: anywhere; }
th { color: var(--muted); font-weight: 600; }
button { font: inherit; font-size: 12px; padding: 2px 10px; margin-right: 4px; border: 1px solid var(--line); border-radius: 5px; background: var(--bg); color: var(--fg); cursor: pointer; }
button:hover { border-color: var(--fg); }
#token-panel { margin: 12px 20px 0; padding: 10px 12px; border: 1px solid var(--warn); border-radius: 8px; background: var(--card); }
#token-panel input { font: inherit; padding: 3px 6px; width: 320px; margin: 0 6px; }
.empty { color: var(--muted); font-style: italic; padding: 6px 0; }
`;
