// The answers of the timeout model's cuts, each distinct from upstream_timeout (the response head
// was late). A cut carries its Failure in a LocalFailure, so classify() names it and the retry
// and breaker interceptors leave it alone (sidelight ended the exchange, not the upstream). Once
// the response head has gone out the status is not used: the client sees the connection closed
// mid-body, and the code and error type name why.
import { failure, LocalFailure } from '../errors.js';

/** One error object per kind: a cut needs no stack, and none is allocated per exchange. */
export const streamIdleTimeout = new LocalFailure(failure('stream_idle_timeout', 'nothing moved on this exchange for longer than idleTimeout'));
export const maxDuration = new LocalFailure(failure('max_duration', 'the exchange took longer than maxDuration'));
export const shutdown = new LocalFailure(failure('shutdown', 'sidelight shut down before the exchange was over', { headers: ['retry-after', '1'] }));
export const grpcDeadlineExceeded = new LocalFailure(failure('deadline_exceeded', "the call's deadline (grpc-timeout) passed"));
