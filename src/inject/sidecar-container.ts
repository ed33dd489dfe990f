// The sidelight container as Kubernetes sees it: ports, probes, env, mounts, security and the
// classic variant's preStop. One definition, used by `sidelight inject` and checked against the
// manifests in deploy/kubernetes by the tests, so the two cannot drift apart.

/** sidelight's default listeners (src/config/schema.ts); the probes and Service depend on them. */
export const INGRESS_PORT = 15080;
export const ADMIN_PORT = 15090;

export const CONTAINER_NAME = 'sidelight';
export const CONFIG_VOLUME = 'sidelight-config';
export const TMP_VOLUME = 'sidelight-tmp';
export const CONFIG_DIR = '/etc/sidelight';
export const CONFIG_FILE = `${CONFIG_DIR}/sidelight.yaml`;
export const ADMIN_SECRET = 'sidelight-admin';
export const ADMIN_SECRET_KEY = 'token';
/** the image's numeric non-root user (Dockerfile USER) */
export const RUN_AS_USER = 10001;

export const PROBE_PATHS = { startup: '/live', readiness: '/ready', liveness: '/live' } as const;

/**
 * The termination budget, in seconds. The pod's grace period must cover, in order: the app's own
 * shutdown (native: the kubelet stops sidelight only after the app has exited; classic: the
 * preStop waits at most this long for the app to close its port), then sidelight's drain
 * (drain.delay + drain.timeout, 0s + 25s by default), then its bounded telemetry flush (5 s,
 * src/lifecycle/shutdown.ts).
 */
export const APP_SHUTDOWN_SECONDS = 10;
export const DEFAULT_DRAIN_SECONDS = 25;
export const FLUSH_SECONDS = 5;
export const MIN_GRACE_SECONDS = APP_SHUTDOWN_SECONDS + DEFAULT_DRAIN_SECONDS + FLUSH_SECONDS;

export interface SidecarOptions {
  image: string;
  appPort: number;
  /** h2c: HTTP/2 cleartext (a gRPC app) */
  appProtocol: 'http' | 'h2c';
  configMap: string;
  /** a regular container (clusters before 1.29) instead of a native sidecar */
  classic: boolean;
  /** service.name for traces; the workload's name */
  serviceName?: string;
}

export type Json = Record<string, unknown>;

/**
 * Classic containers all get SIGTERM together, so nothing keeps sidelight up while the app
 * finishes (and still calls APIs through egress). This preStop holds sidelight's SIGTERM back
 * until the app has closed its port (at most APP_SHUTDOWN_SECONDS), then starts the drain with
 * POST /drain from loopback (plus the token when one is set). Plain node: the image has no curl.
 */
export function classicPreStopScript(): string {
  return [
    "const net = require('node:net'), http = require('node:http'), env = process.env;",
    `const port = Number(new URL(env.SIDELIGHT_APP).port) || 80, end = Date.now() + ${APP_SHUTDOWN_SECONDS * 1000};`,
    'const drain = () => {',
    "  const headers = env.SIDELIGHT_ADMIN_TOKEN ? { authorization: 'Bearer ' + env.SIDELIGHT_ADMIN_TOKEN } : {};",
    `  http.request({ host: '127.0.0.1', port: ${ADMIN_PORT}, path: '/drain', method: 'POST', headers }, (res) => res.resume().on('end', () => process.exit(0)))`,
    "    .on('error', () => process.exit(0)).end();",
    '};',
    'const poll = () => {',
    '  if (Date.now() > end) return drain();',
    "  const s = net.connect(port, '127.0.0.1');",
    "  s.on('connect', () => { s.destroy(); setTimeout(poll, 500); }).on('error', drain);",
    '};',
    'poll();',
  ].join('\n');
}

const fieldEnv = (name: string, fieldPath: string): Json => ({ name, valueFrom: { fieldRef: { fieldPath } } });

export function sidecarEnv(options: SidecarOptions): Json[] {
  const env: Json[] = [
    { name: 'SIDELIGHT_CONFIG', value: CONFIG_FILE },
    { name: 'SIDELIGHT_APP', value: `${options.appProtocol}://127.0.0.1:${options.appPort}` },
    // optional: the pod starts without the Secret; POST on the admin port is then loopback-only.
    { name: 'SIDELIGHT_ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: ADMIN_SECRET, key: ADMIN_SECRET_KEY, optional: true } } },
  ];
  if (options.serviceName) env.push({ name: 'OTEL_SERVICE_NAME', value: options.serviceName });
  // Downward API: trace resource attributes (k8s.pod.name, k8s.namespace.name, k8s.node.name).
  env.push(fieldEnv('POD_NAME', 'metadata.name'), fieldEnv('POD_NAMESPACE', 'metadata.namespace'), fieldEnv('NODE_NAME', 'spec.nodeName'));
  return env;
}

const httpProbe = (path: string, extra: Json): Json => ({ httpGet: { path, port: ADMIN_PORT }, ...extra });

export function sidecarContainer(options: SidecarOptions): Json {
  const container: Json = { name: CONTAINER_NAME, image: options.image };
  // A native sidecar: an init container that keeps running, started before and stopped after the app.
  if (!options.classic) container.restartPolicy = 'Always';
  Object.assign(container, {
    args: ['run'],
    ports: [
      { name: 'sl-ingress', containerPort: INGRESS_PORT, protocol: 'TCP' },
      { name: 'sl-admin', containerPort: ADMIN_PORT, protocol: 'TCP' },
    ],
    env: sidecarEnv(options),
    // Native: the app container starts only once this succeeds, so it must not wait for the app.
    startupProbe: httpProbe(PROBE_PATHS.startup, { periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 30 }),
    // /ready includes the app's own readiness check, so the pod is Ready only when both are.
    readinessProbe: httpProbe(PROBE_PATHS.readiness, { periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 }),
    livenessProbe: httpProbe(PROBE_PATHS.liveness, { periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 }),
    // From bench/RESULTS.md (default config: idle RSS, RSS under saturating load on one core, CPU
    // per request; test/deploy/manifests.test.ts ties the request to them). The request covers the
    // loaded figure, so the scheduler reserves what a busy pod uses; the limit leaves room for
    // bursts and the bounded buffers (queues, replay bodies) all full at once.
    resources: {
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { cpu: '1', memory: '256Mi' },
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS_USER,
      runAsGroup: RUN_AS_USER,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: CONFIG_VOLUME, mountPath: CONFIG_DIR, readOnly: true },
      { name: TMP_VOLUME, mountPath: '/tmp' },
    ],
  });
  if (options.classic) container.lifecycle = { preStop: { exec: { command: ['node', '-e', classicPreStopScript()] } } };
  return container;
}

export function sidecarVolumes(options: Pick<SidecarOptions, 'configMap'>): Json[] {
  return [
    { name: CONFIG_VOLUME, configMap: { name: options.configMap } },
    { name: TMP_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
  ];
}

/** Annotation-based Prometheus discovery (the ServiceMonitor is the operator's equivalent). */
export const POD_ANNOTATIONS: Record<string, string> = {
  'prometheus.io/scrape': 'true',
  'prometheus.io/port': String(ADMIN_PORT),
  'prometheus.io/path': '/metrics',
};
