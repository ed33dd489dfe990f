// The OTEL_TRACES_SAMPLER samplers, as the OpenTelemetry specification defines them. The ratio
// test is the one OpenTelemetry JS uses (the trace id's four 32-bit words XORed, compared with
// ratio × 2³²−1), so a trace is kept or dropped the same way by sidelight and by JS services.
import type { SamplerName } from '../../config/tracing-env.js';

/**
 * Decides whether a span is sampled. `parentSampled` is the parent's decision (undefined for a
 * root span, or when the caller deferred the decision, as B3 allows).
 */
export type Sampler = (traceId: string, parentSampled: boolean | undefined) => boolean;

export function createSampler(name: SamplerName, ratio: number): Sampler {
  const root: (traceId: string) => boolean = name.endsWith('always_on')
    ? () => true
    : name.endsWith('always_off')
      ? () => false
      : ratioSampler(ratio);
  if (!name.startsWith('parentbased_')) return (traceId) => root(traceId);
  return (traceId, parentSampled) => parentSampled ?? root(traceId);
}

function ratioSampler(ratio: number): (traceId: string) => boolean {
  if (ratio >= 1) return () => true;
  if (ratio <= 0) return () => false;
  const upperBound = Math.floor(ratio * 0xffffffff);
  return (traceId) => {
    let accumulation = 0;
    for (let pos = 0; pos < 32; pos += 8) accumulation = (accumulation ^ parseInt(traceId.slice(pos, pos + 8), 16)) >>> 0;
    return accumulation < upperBound;
  };
}
