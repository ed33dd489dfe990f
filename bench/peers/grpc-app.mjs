// The gRPC bench app: grpc-js serving test/fixtures/echo.proto's unary Echo/Say over h2c on PORT,
// answering each call with its message. GET /calls on COUNT_PORT (HTTP/1.1) answers how many
// calls it has answered: the bench compares that with what the load generator counted as
// succeeded, since a proxy's own gRPC errors arrive as HTTP 200 with a grpc-status trailer.
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const proto = fileURLToPath(new URL('../../test/fixtures/echo.proto', import.meta.url));
const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(proto, { keepCase: false, longs: Number, enums: String, defaults: true }));
let calls = 0;

const server = new grpc.Server();
server.addService(pkg.sidelight.test.v1.Echo.service, {
  say(call, callback) {
    calls++;
    callback(null, { message: call.request.message, count: 1 });
  },
});
server.bindAsync(`127.0.0.1:${process.env.PORT}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
});

createServer((req, res) => res.end(String(calls))).listen(Number(process.env.COUNT_PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
