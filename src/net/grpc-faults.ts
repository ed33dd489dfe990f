// Which gRPC statuses are the server's fault (config grpc.errorCodes), as a lookup by code: the
// RED error rates, the error spans and the egress breakers ask it once per finished call.
import { GRPC_STATUS_NAMES, type GrpcStatusName } from './grpc-status.js';

const UNKNOWN = 2;

export class GrpcFaults {
  private readonly byCode: readonly boolean[];

  constructor(names: readonly GrpcStatusName[]) {
    this.byCode = GRPC_STATUS_NAMES.map((name) => names.includes(name));
  }

  /**
   * true for a status in the set; a code past the table (a buggy peer) is judged as UNKNOWN,
   * which is what gRPC clients turn it into. -1 (no status) is not a status, so not a fault.
   */
  isFault(code: number): boolean {
    if (code < 0) return false;
    return this.byCode[code] ?? this.byCode[UNKNOWN];
  }
}
