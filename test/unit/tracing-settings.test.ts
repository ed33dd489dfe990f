// Which exporter and sampler the config and the OTEL_* environment add up to.
import { describe, expect, it } from 'vitest';
import { tracingSettings } from '../../src/config/tracing-env.js';

const config = (exporter: 'otlp' | 'console' | 'none' = 'otlp', sampleRatio = 1) => ({ tracing: { exporter, sampleRatio }, service: 'test', version: '0.0.0' });

describe('tracingSettings', () => {
  it('takes the config file when no OTEL_* variable is set', () => {
    expect(tracingSettings(config('console', 0.25), {})).toMatchObject({ exporter: 'console', sampler: 'parentbased_traceidratio', ratio: 0.25, maxQueueSize: 2048 });
    expect(tracingSettings(config('none'), {})).toMatchObject({ exporter: 'none', disabledBy: 'tracing.exporter' });
  });

  it('lets the variables the spec defines override the file', () => {
    expect(tracingSettings(config('none'), { OTEL_TRACES_EXPORTER: 'otlp' }).exporter).toBe('otlp');
    expect(tracingSettings(config('otlp'), { OTEL_TRACES_EXPORTER: 'none' })).toMatchObject({ exporter: 'none', disabledBy: 'OTEL_TRACES_EXPORTER' });
    expect(tracingSettings(config('otlp'), { OTEL_SDK_DISABLED: 'TRUE', OTEL_TRACES_EXPORTER: 'otlp' })).toMatchObject({ exporter: 'none', disabledBy: 'OTEL_SDK_DISABLED' });
    expect(tracingSettings(config('otlp', 1), { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' })).toMatchObject({ sampler: 'traceidratio', ratio: 0.01 });
  });

  it('ignores values it cannot use', () => {
    expect(tracingSettings(config('console', 0.5), { OTEL_TRACES_EXPORTER: 'jaeger', OTEL_TRACES_SAMPLER: 'bogus', OTEL_TRACES_SAMPLER_ARG: '7', OTEL_SDK_DISABLED: 'false' })).toMatchObject({
      exporter: 'console',
      sampler: 'parentbased_traceidratio',
      ratio: 0.5,
    });
    expect(tracingSettings(config(), { OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512' })).toMatchObject({ maxQueueSize: 100, maxExportBatchSize: 100 });
  });
});
