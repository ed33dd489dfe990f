// Offline validation against the Kubernetes OpenAPI schemas (kubernetes-models) and the
// Prometheus Operator CRDs: one model per apiVersion/kind, and an unknown kind is a failure.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, Namespace, Pod, Secret, Service } from 'kubernetes-models/v1';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';

type Obj = Record<string, unknown> & { apiVersion?: string; kind?: string };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/ReplicaSet': ReplicaSet,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
  'v1/Pod': Pod,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Namespace': Namespace,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

/** Throws with the document's kind/name and the schema's complaint. */
export function validateObject(obj: Obj): void {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const Model = MODELS[key];
  if (!Model) throw new Error(`no schema model for ${key}`);
  try {
    new Model(obj).validate();
  } catch (err) {
    const name = (obj.metadata as { name?: string } | undefined)?.name;
    throw new Error(`${key} ${name}: ${(err as Error).message}`);
  }
}

export function parseManifests(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw d.errors[0];
      return d.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null);
}

export function readManifests(file: string): Obj[] {
  return parseManifests(readFileSync(file, 'utf8'));
}

/** every pod spec in an object (Deployment template, CronJob's job template, a bare Pod) */
export function podSpecs(obj: Obj): Array<Record<string, unknown>> {
  const spec = obj.spec as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  if (!spec) return [];
  if (obj.kind === 'Pod') return [spec];
  if (obj.kind === 'CronJob') return [spec.jobTemplate.spec.template.spec];
  if (spec.template?.spec) return [spec.template.spec];
  return [];
}
