import { describe, expect, it } from 'vitest';
import { pickRequestId } from '../../src/layers/request-id.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('pickRequestId', () => {
  it('keeps 1–128 characters of [A-Za-z0-9._:-]', () => {
    for (const id of ['a', 'A.b_c:d-9', 'x'.repeat(128)]) expect(pickRequestId(id, undefined)).toBe(id);
  });

  it('replaces anything else with a UUID, and does not fall back to X-Correlation-ID then', () => {
    for (const id of ['', 'x'.repeat(129), 'with space', 'ünïcode', 'a/b', 'quote"']) {
      expect(pickRequestId(id, 'corr-1')).toMatch(UUID);
    }
  });

  it('takes a well-formed X-Correlation-ID when X-Request-ID is absent', () => {
    expect(pickRequestId(undefined, 'corr-1')).toBe('corr-1');
    expect(pickRequestId(undefined, 'bad id')).toMatch(UUID);
    expect(pickRequestId(undefined, undefined)).toMatch(UUID);
  });

  it('treats a repeated header (an array) as malformed', () => {
    expect(pickRequestId(['a', 'b'], undefined)).toMatch(UUID);
  });
});
