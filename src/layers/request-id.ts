// X-Request-ID: keep a well-formed one, else take X-Correlation-ID, else mint a UUID;
// send it upstream and back on every response, sidelight's own errors included.
import { randomUUID } from 'node:crypto';
import type { Layer } from '../proxy/layer.js';

const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

export function pickRequestId(requestId: unknown, correlationId: unknown): string {
  if (typeof requestId === 'string') return WELL_FORMED.test(requestId) ? requestId : randomUUID();
  if (typeof correlationId === 'string' && WELL_FORMED.test(correlationId)) return correlationId;
  return randomUUID();
}

export const requestIdLayer: Layer = {
  name: 'request-id',
  ownsRequestHeaders: ['x-request-id'],
  onRequest(ex) {
    const headers = ex.req.headers;
    ex.requestId = pickRequestId(headers['x-request-id'], headers['x-correlation-id']);
    ex.forwardHeaders.push('x-request-id', ex.requestId);
    return undefined;
  },
  onResponse(ex, headers) {
    headers['x-request-id'] = ex.requestId;
  },
};
