// `sidelight inject`: walk multi-document Kubernetes YAML, add the sidelight container to every pod
// template, and leave everything else alone. Untouched documents are copied from the input byte
// for byte; changed ones are edited through yaml's Document API so comments and key order survive.
import { isMap, isSeq, parseAllDocuments, type Document, YAMLMap, YAMLSeq } from 'yaml';
import {
  ADMIN_PORT,
  CONTAINER_NAME,
  INGRESS_PORT,
  MIN_GRACE_SECONDS,
  POD_ANNOTATIONS,
  sidecarContainer,
  sidecarVolumes,
  type Json,
  type SidecarOptions,
} from './sidecar-container.js';

export class InjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InjectError';
  }
}

export interface InjectOptions {
  image: string;
  /** the app's port; default: the app container's first containerPort, else 8080 */
  appPort?: number;
  /** how the app speaks on it; default: h2c when that port says gRPC or h2c (appProtocol or name), else http */
  appProtocol?: 'http' | 'h2c';
  configMap: string;
  classic: boolean;
}

export interface InjectResult {
  output: string;
  /** things the user should know (printed on stderr); the output is still complete */
  warnings: string[];
  /** how many pod templates got the sidecar */
  injected: number;
}

type Path = Array<string | number>;

/** Where each kind keeps its pod template. */
const TEMPLATE_PATHS: Record<string, Path> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

const SUPPORTED = 'Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod';
const DEFAULT_APP_PORT = 8080;

export function inject(source: string, options: InjectOptions): InjectResult {
  const docs = parseAllDocuments(source, { prettyErrors: true });
  if (docs.length === 0) throw new InjectError('the input is empty: give Kubernetes YAML (a FILE, or "-" for stdin)');
  const warnings: string[] = [];
  const appPorts: Array<{ where: string; port: number }> = [];
  let injected = 0;
  const parts: string[] = [];

  docs.forEach((doc, i) => {
    const where = `document ${i + 1}`;
    if (doc.errors.length > 0) throw new InjectError(`${where} is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
    // Leading comments before the first "---" belong to the first document's text.
    const start = i === 0 ? 0 : doc.range[0];
    const end = i + 1 < docs.length ? docs[i + 1].range[0] : source.length;
    const original = source.slice(start, end);
    if (doc.contents === null) {
      parts.push(original);
      return;
    }
    const before = JSON.stringify(doc.toJS());
    const templates = findTemplates(doc, where);
    for (const t of templates) {
      appPorts.push({ where: t.where, port: injectTemplate(doc, t, options, warnings) });
      injected++;
    }
    // Nothing changed (already injected with the same options): keep the input's bytes exactly.
    if (templates.length === 0 || JSON.stringify(doc.toJS()) === before) {
      parts.push(original);
      return;
    }
    let text = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
    if (i > 0 && !text.startsWith('---')) text = `---\n${text}`;
    parts.push(text);
  });

  if (injected === 0) {
    throw new InjectError(`no pod template found: inject adds the sidecar to ${SUPPORTED} (also inside a List)`);
  }
  warnings.push(...serviceHints(docs, appPorts));
  return { output: parts.join(''), warnings, injected };
}

interface Template {
  path: Path;
  kind: string;
  name: string | undefined;
  where: string;
}

function findTemplates(doc: Document, where: string, prefix: Path = []): Template[] {
  const node = prefix.length ? doc.getIn(prefix) : doc.contents;
  if (!isMap(node) || typeof node.get('apiVersion') !== 'string' || typeof node.get('kind') !== 'string') {
    throw new InjectError(`${where} is not a Kubernetes object (a mapping with apiVersion and kind)`);
  }
  const kind = node.get('kind') as string;
  if (kind === 'List' || kind.endsWith('List')) {
    const items = node.get('items');
    if (!isSeq(items)) return [];
    return items.items.flatMap((_item, j) => findTemplates(doc, `${where}, item ${j + 1}`, [...prefix, 'items', j]));
  }
  const relative = TEMPLATE_PATHS[kind];
  if (!relative) return [];
  const name = doc.getIn([...prefix, 'metadata', 'name']);
  const label = `${where} (${kind}${typeof name === 'string' ? ` ${name}` : ''})`;
  const path = [...prefix, ...relative];
  if (!isMap(doc.getIn([...path, 'spec'])) || !isSeq(doc.getIn([...path, 'spec', 'containers']))) {
    throw new InjectError(`${label} has no pod template with containers (expected ${[...relative, 'spec', 'containers'].join('.')})`);
  }
  return [{ path, kind, name: typeof name === 'string' ? name : undefined, where: label }];
}

/** Adds (or refreshes) the sidecar in one pod template; returns the app port it points at. */
function injectTemplate(doc: Document, t: Template, options: InjectOptions, warnings: string[]): number {
  const spec = [...t.path, 'spec'];
  const containers = doc.getIn([...spec, 'containers']) as YAMLSeq;
  const apps = (containers.toJSON() as Json[]).filter((c) => c?.name !== CONTAINER_NAME);
  if (apps.length === 0) throw new InjectError(`${t.where} has no app container next to which sidelight could run`);
  for (const c of apps) {
    for (const p of (c.ports as Json[] | undefined) ?? []) {
      if (p.containerPort === INGRESS_PORT || p.containerPort === ADMIN_PORT) {
        throw new InjectError(`${t.where}: container "${String(c.name)}" already uses port ${String(p.containerPort)}, which sidelight needs`);
      }
    }
  }
  const ports = (apps[0].ports as Json[] | undefined) ?? [];
  const firstPort = ports[0]?.containerPort;
  const appPort = options.appPort ?? (typeof firstPort === 'number' ? firstPort : DEFAULT_APP_PORT);
  const appProtocol = options.appProtocol ?? (speaksH2c(ports.find((p) => p.containerPort === appPort)) ? 'h2c' : 'http');

  // Take out any sidelight container from an earlier run, remembering where it sat.
  const previous = removeNamed(doc, [...spec, 'initContainers']) ?? removeNamed(doc, [...spec, 'containers']);
  const sidecarOptions: SidecarOptions = { image: options.image, appPort, appProtocol, configMap: options.configMap, classic: options.classic, serviceName: t.name };
  const container = sidecarContainer(sidecarOptions);
  keepUserEnv(container, previous?.value);

  if (options.classic) {
    insertAt(doc, [...spec, 'containers'], container, previous?.list === 'containers' ? previous.index : undefined);
    if (t.kind === 'Job' || t.kind === 'CronJob') {
      warnings.push(`${t.where}: a classic sidecar keeps running after the job's work is done, so the pod never completes; native sidecars (the default, Kubernetes ≥ 1.29) do not`);
    }
  } else {
    // First among init containers, so the ones after it can already use egress.
    insertAt(doc, [...spec, 'initContainers'], container, previous?.list === 'initContainers' ? previous.index : 0);
  }
  // Switching between native and classic can leave the other list empty: an empty list is noise.
  for (const list of ['initContainers', 'containers']) {
    const seq = doc.getIn([...spec, list]);
    if (isSeq(seq) && seq.items.length === 0) doc.deleteIn([...spec, list]);
  }
  for (const volume of sidecarVolumes(options)) upsertNamed(doc, [...spec, 'volumes'], volume);

  const annotations = [...t.path, 'metadata', 'annotations'];
  for (const [key, value] of Object.entries(POD_ANNOTATIONS)) {
    const existing = doc.getIn([...annotations, key]);
    if (existing !== undefined && existing !== value) {
      warnings.push(`${t.where}: annotation ${key} was "${String(existing)}", now "${value}" (sidelight's admin port serves /metrics)`);
    }
    if (existing !== value) doc.setIn([...annotations, key], value);
  }

  // Raise, never lower: the pod must outlive the app's shutdown plus sidelight's drain and flush.
  const grace = doc.getIn([...spec, 'terminationGracePeriodSeconds']);
  if (typeof grace !== 'number' || grace < MIN_GRACE_SECONDS) doc.setIn([...spec, 'terminationGracePeriodSeconds'], MIN_GRACE_SECONDS);
  return appPort;
}

function removeNamed(doc: Document, path: Path): { list: string; index: number; value: Json } | undefined {
  const seq = doc.getIn(path);
  if (!isSeq(seq)) return undefined;
  const index = seq.items.findIndex((item) => isMap(item) && item.get('name') === CONTAINER_NAME);
  if (index < 0) return undefined;
  // An emptied list stays in place for now, so a re-run puts the sidecar back where it was.
  const [node] = seq.items.splice(index, 1);
  return { list: String(path[path.length - 1]), index, value: (node as YAMLMap).toJSON() as Json };
}

function insertAt(doc: Document, path: Path, value: Json, index: number | undefined): void {
  const seq = doc.getIn(path);
  if (!isSeq(seq)) {
    doc.setIn(path, doc.createNode([value]));
    return;
  }
  seq.items.splice(index ?? seq.items.length, 0, doc.createNode(value));
}

function upsertNamed(doc: Document, path: Path, value: Json): void {
  const seq = doc.getIn(path);
  if (!isSeq(seq)) {
    doc.setIn(path, doc.createNode([value]));
    return;
  }
  const index = seq.items.findIndex((item) => isMap(item) && item.get('name') === value.name);
  if (index < 0) seq.items.push(doc.createNode(value));
  else if (JSON.stringify((seq.items[index] as YAMLMap).toJSON()) !== JSON.stringify(value)) seq.items[index] = doc.createNode(value);
}

/** inject owns the sidelight container, but env a user added to it (e.g. OTEL_EXPORTER_OTLP_ENDPOINT) survives a re-run. */
function keepUserEnv(container: Json, previous: Json | undefined): void {
  const env = container.env as Json[];
  const ours = new Set(env.map((e) => e.name));
  for (const e of (previous?.env as Json[] | undefined) ?? []) if (!ours.has(e.name)) env.push(e);
}

/** A Service in the same input that still targets the app port bypasses sidelight's ingress. */
/** A container port marked as gRPC or HTTP/2 cleartext: `appProtocol` (Kubernetes' own names, or grpc) or a name starting grpc/h2c, as Istio reads port names. */
function speaksH2c(port: Json | undefined): boolean {
  if (!port) return false;
  const appProtocol = String(port.appProtocol ?? '').toLowerCase();
  if (['grpc', 'h2c', 'kubernetes.io/h2c', 'http2'].includes(appProtocol)) return true;
  return /^(grpc|h2c|http2)(-|$)/i.test(String(port.name ?? ''));
}

function serviceHints(docs: Document[], appPorts: Array<{ where: string; port: number }>): string[] {
  const ports = new Set(appPorts.map((a) => a.port));
  const hints: string[] = [];
  for (const doc of docs) {
    const svc = doc.toJS() as Json | null;
    if (!svc || svc.kind !== 'Service') continue;
    const spec = (svc.spec ?? {}) as Json;
    for (const p of (spec.ports as Json[] | undefined) ?? []) {
      const target = p.targetPort ?? p.port;
      if (typeof target === 'number' && ports.has(target)) {
        const name = (svc.metadata as Json | undefined)?.name;
        hints.push(`Service ${String(name)} sends port ${String(p.port)} straight to the app (targetPort ${target}); set targetPort: ${INGRESS_PORT} (or sl-ingress) so inbound traffic goes through sidelight`);
      }
    }
  }
  return hints;
}
