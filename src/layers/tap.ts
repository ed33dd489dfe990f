// Feeds the tap (GET /tap, `sidelight tap`): one summary per finished exchange or egress tunnel.
// With no tap client connected, a success costs the comparisons below and nothing else; a
// failure's summary goes to the hub, which keeps the latest few for clients that connect later.
// With clients, the summary is built once and the hub fans it out.
import type { GrpcFaults } from '../net/grpc-faults.js';
import type { Layer } from '../proxy/layer.js';
import type { TapHub } from '../tap/hub.js';
import { exchangeRecord, tunnelRecord } from '../tap/record.js';

/** `faults`: grpc.errorCodes, the gRPC statuses that make a call a failure */
export function tapLayer(hub: TapHub, options: { logQuery: boolean }, faults: GrpcFaults): Layer {
  const logQuery = options.logQuery;
  return {
    name: 'tap',
    onDone(ex) {
      if (hub.clients === 0 && ex.errorCode === undefined && ex.status < 500 && !(ex.grpc && faults.isFault(ex.grpcStatus))) return;
      hub.publish(ex.tunnel === undefined ? exchangeRecord(ex, logQuery, faults) : tunnelRecord(ex, ex.tunnel));
    },
  };
}
