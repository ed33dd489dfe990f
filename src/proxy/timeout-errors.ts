// The answers and error codes of the timeout model's cuts, each distinct from upstream_timeout
// (the response head was late). A cut carries its Failure in a LocalFailure, so classify() names
// it and the retry and breaker interceptors leave it alone (sidelight ended the exchange, not the
// upstream). Once the response head has gone out the status is not used: the client sees the
// connection closed mid-body, and the code and error type name why.
import { LocalFailure, type Failure } from './errors.js';

/** the request body, or the response body between two chunks, stalled longer than idleTimeout */
export const STREAM_IDLE_TIMEOUT: Failure = {
  status: 408,
  code: 'stream_idle_timeout',
  errorType: 'stream_idle_timeout',
  message: 'nothing moved on this exchange for longer than idleTimeout',
};

/** the whole exchange ran past maxDuration */
export const MAX_DURATION: Failure = {
  status: 504,
  code: 'max_duration',
  errorType: 'max_duration',
  message: 'the exchange took longer than maxDuration',
};

/** the drain ran out (drain.timeout) with the exchange still open */
export const SHUTDOWN: Failure = {
  status: 503,
  code: 'shutdown',
  errorType: 'shutdown',
  message: 'sidelight shut down before the exchange was over',
  headers: ['retry-after', '1'],
};

/** One error object per kind: a cut needs no stack, and none is allocated per exchange. */
export const streamIdleTimeout = new LocalFailure(STREAM_IDLE_TIMEOUT);
export const maxDuration = new LocalFailure(MAX_DURATION);
export const shutdown = new LocalFailure(SHUTDOWN);
