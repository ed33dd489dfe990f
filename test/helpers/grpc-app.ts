// A real gRPC app (@grpc/grpc-js over h2c) with one method of each call kind and the standard
// health service, and a client for it, so tests see what crosses the proxy as gRPC users do.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface EchoRequest {
  message?: string;
  failCode?: number;
  delayMs?: number;
  count?: number;
  padBytes?: number;
}

export interface EchoReply {
  message: string;
  count: number;
  metadata: string[];
  pad: Buffer;
}

type Unary<Req, Res> = (req: Req, metadata: grpc.Metadata, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Res) => void) => grpc.ClientUnaryCall;

/** The generated client's methods, as the tests use them */
export interface EchoClient extends grpc.Client {
  say: Unary<EchoRequest, EchoReply>;
  stream(req: EchoRequest, metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<EchoReply>;
  collect(metadata: grpc.Metadata, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: EchoReply) => void): grpc.ClientWritableStream<EchoRequest>;
  chat(metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<EchoRequest, EchoReply>;
}

export interface HealthClient extends grpc.Client {
  check: Unary<{ service: string }, { status: string }>;
}

const loadOptions: protoLoader.Options = { keepCase: false, longs: Number, enums: String, defaults: true };
const echoPackage = grpc.loadPackageDefinition(protoLoader.loadSync(`${FIXTURES}echo.proto`, loadOptions)) as unknown as {
  sidelight: { test: { v1: { Echo: grpc.ServiceClientConstructor } } };
};
const healthPackage = grpc.loadPackageDefinition(protoLoader.loadSync(`${FIXTURES}health.proto`, loadOptions)) as unknown as {
  grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
};
const Echo = echoPackage.sidelight.test.v1.Echo;
const Health = healthPackage.grpc.health.v1.Health;

export interface GrpcApp {
  /** h2c://127.0.0.1:PORT, as ingress.app takes it (https://localhost:PORT over TLS) */
  url: string;
  port: number;
  /** metadata of every call received, in order ("key" → first value) */
  calls: Array<{ method: string; metadata: Record<string, string> }>;
  /** what Health/Check answers for a service ("" is the whole server); SERVING by default */
  setHealth(service: string, status: 'SERVING' | 'NOT_SERVING'): void;
  /** calls the app is in the middle of */
  inflight(): number;
  close(): Promise<void>;
}

/** the call's metadata; `deadline-ms` is what was left of its deadline (grpc-timeout) on arrival */
function metadataOf(call: { metadata: grpc.Metadata; getDeadline(): grpc.Deadline }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(call.metadata.getMap())) out[k] = String(v);
  const deadline = call.getDeadline();
  if (deadline instanceof Date || (typeof deadline === 'number' && Number.isFinite(deadline))) out['deadline-ms'] = String(Number(deadline) - Date.now());
  return out;
}

const describe = (m: Record<string, string>) => Object.entries(m).map(([k, v]) => `${k}=${v}`);
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `tls`: serve gRPC over TLS (ALPN h2) with this key and certificate instead of h2c */
export async function startGrpcApp(port = 0, tls?: { key: string; cert: string }): Promise<GrpcApp> {
  const server = new grpc.Server();
  const calls: GrpcApp['calls'] = [];
  const health = new Map<string, string>([['', 'SERVING']]);
  let inflight = 0;
  const track = <T extends { on(e: 'close' | 'finish', f: () => void): unknown }>(call: T, method: string, metadata: Record<string, string>) => {
    calls.push({ method, metadata });
    inflight++;
    let done = false;
    const end = () => {
      if (!done) inflight--;
      done = true;
    };
    call.on('close', end);
    call.on('finish', end);
  };

  server.addService(Echo.service, {
    say: async (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) => {
      const md = metadataOf(call);
      calls.push({ method: 'Say', metadata: md });
      const req = call.request;
      if (req.delayMs) await wait(req.delayMs);
      if (req.failCode) return cb({ code: req.failCode, details: `asked to fail with ${req.failCode}` });
      const trailer = new grpc.Metadata();
      trailer.set('x-app-trailer', 'yes');
      cb(null, { message: req.message ?? '', count: 1, metadata: describe(md), pad: Buffer.alloc(req.padBytes ?? 0, 97) }, trailer);
    },
    stream: async (call: grpc.ServerWritableStream<EchoRequest, EchoReply>) => {
      const md = metadataOf(call);
      track(call, 'Stream', md);
      const req = call.request;
      for (let i = 0; i < (req.count ?? 0) && !call.cancelled; i++) {
        if (i > 0 && req.delayMs) await wait(req.delayMs);
        call.write({ message: `${req.message ?? ''} ${i}`, count: i, metadata: i === 0 ? describe(md) : [], pad: Buffer.alloc(req.padBytes ?? 0, 97) });
      }
      if (req.failCode) call.emit('error', { code: req.failCode, details: `asked to fail with ${req.failCode}` });
      else call.end();
    },
    collect: (call: grpc.ServerReadableStream<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) => {
      const md = metadataOf(call);
      calls.push({ method: 'Collect', metadata: md });
      const parts: string[] = [];
      call.on('data', (m: EchoRequest) => parts.push(m.message ?? ''));
      call.on('end', () => cb(null, { message: parts.join(','), count: parts.length, metadata: describe(md), pad: Buffer.alloc(0) }));
    },
    chat: (call: grpc.ServerDuplexStream<EchoRequest, EchoReply>) => {
      const md = metadataOf(call);
      track(call, 'Chat', md);
      let n = 0;
      call.on('data', (m: EchoRequest) => {
        if (m.failCode) return call.emit('error', { code: m.failCode, details: `asked to fail with ${m.failCode}` });
        call.write({ message: m.message ?? '', count: n++, metadata: n === 1 ? describe(md) : [], pad: Buffer.alloc(m.padBytes ?? 0, 97) });
      });
      call.on('end', () => call.end());
    },
  });
  server.addService(Health.service, {
    check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<{ status: string }>) => {
      const status = health.get(call.request.service);
      if (status === undefined) return cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      cb(null, { status });
    },
  });

  const credentials = tls
    ? grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(tls.key), cert_chain: Buffer.from(tls.cert) }])
    : grpc.ServerCredentials.createInsecure();
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    url: tls ? `https://localhost:${bound}` : `h2c://127.0.0.1:${bound}`,
    port: bound,
    calls,
    setHealth: (service, status) => void health.set(service, status),
    inflight: () => inflight,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())).then(() => server.forceShutdown()),
  };
}

/** A client of the Echo service at host:port (sidelight's ingress, or the app itself) */
export function echoClient(address: string, options: grpc.ChannelOptions = {}): EchoClient {
  return new Echo(address, grpc.credentials.createInsecure(), options) as unknown as EchoClient;
}

export function healthClient(address: string): HealthClient {
  return new Health(address, grpc.credentials.createInsecure()) as unknown as HealthClient;
}

/** A unary call as a promise: the reply, or the ServiceError with its code, details and metadata */
export function sayVia(client: EchoClient, req: EchoRequest, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<EchoReply> {
  return new Promise((resolve, reject) => client.say(req, metadata, options, (err, res) => (err ? reject(err) : resolve(res!))));
}

/** The ServiceError a call ended with; fails the test when the call succeeded */
export async function failureOf(call: Promise<unknown>): Promise<grpc.ServiceError> {
  const outcome = await call.then(
    (value) => ({ value }),
    (err: grpc.ServiceError) => ({ err }),
  );
  if ('err' in outcome) return outcome.err;
  throw new Error(`the call succeeded: ${JSON.stringify(outcome.value)}`);
}

export { grpc };
