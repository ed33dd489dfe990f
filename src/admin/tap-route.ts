// GET /tap: the live stream of finished exchanges, NDJSON by default, Server-Sent Events when
// the client asks for text/event-stream; `recent=true` starts it with the latest failures kept.
// It shows paths and request ids, so it is guarded like the admin POSTs: the admin token, or
// loopback when none is set.
import type { IncomingMessage } from 'node:http';
import type { TapHub, TapFormat } from '../tap/hub.js';
import { flag, parseTapFilter, TapFilterError, type TapFilter } from '../tap/filter.js';
import { sendJson, type AdminRouter } from './server.js';

function negotiate(req: IncomingMessage): TapFormat {
  return /\btext\/event-stream\b/i.test(req.headers.accept ?? '') ? 'sse' : 'ndjson';
}

export function addTapRoute(router: AdminRouter, hub: TapHub): void {
  router.get(
    '/tap',
    (req, res) => {
      if (hub.limits.maxClients === 0) {
        return sendJson(res, 404, { error: 'tap_disabled', message: 'the tap is off (admin.tap.maxClients is 0)' });
      }
      let filter: TapFilter;
      let recent: boolean;
      try {
        const params = new URL(req.url ?? '/', 'http://admin').searchParams;
        recent = flag('recent', params.get('recent'));
        params.delete('recent');
        filter = parseTapFilter(params);
      } catch (err) {
        if (err instanceof TapFilterError) return sendJson(res, 400, { error: 'bad_request', message: err.message });
        throw err;
      }
      if (req.method === 'HEAD') return sendJson(res, 200, {});
      if (!hub.attach(res, filter, negotiate(req), recent)) {
        sendJson(
          res,
          503,
          { error: 'too_many_tap_clients', message: `${hub.limits.maxClients} tap clients are connected (admin.tap.maxClients)` },
          { 'retry-after': '5' },
        );
      }
    },
    { guarded: true },
  );
}
