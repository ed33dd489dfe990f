// The admin page (GET /): one HTML document with its CSS and script inline. Loaded lazily by
// src/admin/page-route.ts, which also derives the Content-Security-Policy hashes from it.
import { SCRIPT } from './script.js';
import { STYLE } from './style.js';

export { SCRIPT, STYLE };

export const BODY = String.raw`
<header>
  <h1>sidelight</h1>
  <span id="state"></span>
  <span id="inflight" class="muted"></span>
  <span id="updated" class="muted"></span>
  <span id="offline" class="badge bad" hidden>cannot reach sidelight</span>
</header>
<section id="token-panel" hidden>
  <form id="token-form">
    <span id="token-message"></span>
    <input id="token" type="password" autocomplete="off" placeholder="admin token (SIDELIGHT_ADMIN_TOKEN)" aria-label="admin token">
    <button type="submit">use token</button>
    <span class="muted">kept in this tab only</span>
  </form>
</section>
<main>
  <p id="metrics-off" class="muted" hidden>metrics.enabled is false: rates and latencies are not collected.</p>
  <h2>Routes (ingress)</h2>
  <div id="routes" class="grid"><div class="empty">waiting for /stats</div></div>
  <section id="grpc-section" hidden>
    <h2>gRPC methods (ingress)</h2>
    <div id="grpc-methods" class="grid"></div>
  </section>
  <h2>Upstreams (egress, per try)</h2>
  <div id="upstreams" class="grid"><div class="empty">waiting for /stats</div></div>
  <h2>Circuit breakers</h2>
  <table><thead><tr><th>upstream</th><th>state</th><th>in flight</th><th></th></tr></thead><tbody id="breakers"></tbody></table>
  <p id="breaker-message" class="muted"></p>
  <h2>Tunnels (egress CONNECT)</h2>
  <table><thead><tr><th>upstream</th><th>open</th><th>opens/s</th><th>established</th><th>sent</th><th>received</th></tr></thead><tbody id="tunnels"></tbody></table>
  <h2>Rate limits</h2>
  <table><thead><tr><th>limit</th><th>rps</th><th>burst</th><th>tokens</th><th>queued</th><th>waited</th><th>avg wait</th><th>refused</th><th>keys</th></tr></thead><tbody id="rate-limits"></tbody></table>
  <h2>Latest failed exchanges</h2>
  <p id="tap-status" class="muted"></p>
  <table><thead><tr><th>time</th><th>listener</th><th>method</th><th>path</th><th>status</th><th>error</th><th>duration</th><th>upstream</th><th>retries</th><th>request id</th></tr></thead>
  <tbody id="failures"></tbody></table>
</main>
`;

/**
 * The page in two parts: between them goes the GET /stats document of the moment, as a JSON data
 * block (never executed), so the first paint shows figures instead of waiting for the first poll.
 */
export function adminPage(): { before: string; after: string } {
  return {
    before: `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>sidelight admin</title><link rel="icon" href="data:,"><style>${STYLE}</style></head>
<body>${BODY}<script id="initial-stats" type="application/json">`,
    after: `</script><script>${SCRIPT}</script></body></html>
`,
  };
}
