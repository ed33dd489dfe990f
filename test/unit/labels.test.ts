import { describe, expect, it } from 'vitest';
import { METHODS, errorTypeIndex, errorTypeLabel, methodIndex, seriesKey, statusIndex, statusLabel } from '../../src/telemetry/labels.js';

describe('bounded label values', () => {
  it('keeps the standard methods and folds the rest into _OTHER', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']) expect(METHODS[methodIndex(m)]).toBe(m);
    for (const m of ['PROPFIND', 'PURGE', 'get', 'BREW']) expect(METHODS[methodIndex(m)]).toBe('_OTHER');
  });

  it('turns statuses into their three digits, and no status into ""', () => {
    expect(statusLabel(statusIndex(200))).toBe('200');
    expect(statusLabel(statusIndex(0))).toBe('');
    expect(statusLabel(statusIndex(1000))).toBe('');
  });

  it('interns error types and caps the vocabulary', () => {
    expect(errorTypeLabel(errorTypeIndex(undefined))).toBe('');
    expect(errorTypeLabel(errorTypeIndex('timeout'))).toBe('timeout');
    expect(errorTypeIndex('timeout')).toBe(errorTypeIndex('timeout'));
    for (let i = 0; i < 100; i++) errorTypeIndex(`bug_${i}`);
    expect(errorTypeLabel(errorTypeIndex('bug_99'))).toBe('_OTHER');
    expect(errorTypeLabel(errorTypeIndex('timeout'))).toBe('timeout');
  });

  it('gives every (method, status, error type) its own series key', () => {
    const keys = new Set<number>();
    for (let m = 0; m < METHODS.length; m++) for (const s of [0, 200, 999]) for (const e of [0, 1, 63]) keys.add(seriesKey(m, s, e));
    expect(keys.size).toBe(METHODS.length * 9);
  });
});
