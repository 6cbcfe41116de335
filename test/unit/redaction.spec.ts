import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/logging/redaction.js';

describe('redactUrl', () => {
  it('removes reset and secret tokens from paths and queries', () => {
    expect(redactUrl('/reset/abcDEF123_-x?next=1')).toBe('/reset/[redacted]?next=1');
    expect(redactUrl('/secret/abc/reveal')).toBe('/secret/[redacted]/reveal');
    expect(redactUrl('/login?token=abc&x=1')).toBe('/login?token=[redacted]&x=1');
    expect(redactUrl('/gate/handoff/Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg')).toBe('/gate/handoff/[redacted]');
    expect(redactUrl('/health')).toBe('/health');
  });
});
