// The rule for tests that need an external tool (test/helpers/tools.ts): skipped with the reason
// on a developer's machine, a failure with CI=true, so CI never passes by skipping them.
import { afterEach, describe, expect, it } from 'vitest';
import { missing } from '../helpers/tools.js';

const ABSENT = { binary: 'sidelight-test-no-such-tool', install: 'apt-get install nothing' };
const ci = process.env.CI;

describe('a test that needs a tool', () => {
  afterEach(() => {
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
  });

  it('runs when the tool is on PATH', () => {
    process.env.CI = 'true';
    expect(missing({ binary: 'sh', install: 'apt-get install dash' })).toBeUndefined();
  });

  it('is skipped with the tool and how to install it when the tool is missing', () => {
    delete process.env.CI;
    expect(missing(ABSENT)).toBe('sidelight-test-no-such-tool is not installed: apt-get install nothing (.ci/run does)');
  });

  it('fails with CI=true when the tool is missing', () => {
    process.env.CI = 'true';
    expect(() => missing(ABSENT)).toThrow('sidelight-test-no-such-tool is not installed: apt-get install nothing (.ci/run does); with CI=true a missing tool fails the tests that need it');
  });
});
