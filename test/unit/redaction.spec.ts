import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/logging/redaction.js';

const TOKEN = 'abcDEF123_-xabcDEF123_-xabcDEF123_-xabcDEF1';

describe('redactUrl', () => {
  it('removes reset and secret tokens from paths and queries', () => {
    expect(redactUrl('/reset/abcDEF123_-x?next=1')).toBe('/reset/[redacted]?next=1');
    expect(redactUrl('/secret/abc/reveal')).toBe('/secret/[redacted]/reveal');
    expect(redactUrl('/login?token=abc&x=1')).toBe('/login?token=[redacted]&x=1');
    expect(redactUrl('/gate/handoff/Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg')).toBe('/gate/handoff/[redacted]');
    expect(redactUrl('/health')).toBe('/health');
  });

  it.each([
    [`/RESET/${TOKEN}`, '/RESET/[redacted]'],
    [`/Reset/${TOKEN}/sign-in`, '/Reset/[redacted]/sign-in'],
    [`/SeCrEt/${TOKEN}/reveal`, '/SeCrEt/[redacted]/reveal'],
    [`/%72eset/${TOKEN}`, '/reset/[redacted]'],
    [`/%52%45SET/${TOKEN}`, '/RESET/[redacted]'],
    [`/reset%2F${TOKEN}`, '/reset/[redacted]'],
    [`//reset/${TOKEN}`, '//reset/[redacted]'],
    [`/reset/${TOKEN}%3Fx`, '/reset/[redacted]'],
    [`/login?TOKEN=${TOKEN}`, '/login?TOKEN=[redacted]'],
    [`/login?%74oken=${TOKEN}&a=1`, '/login?%74oken=[redacted]&a=1'],
    [`/login?Code=${TOKEN}#x`, '/login?Code=[redacted]#x'],
  ])('redacts %s whatever its case or encoding', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it('redacts the token parameter of the route that matched, wherever it appears', () => {
    expect(redactUrl(`/elsewhere/${TOKEN}`, { token: TOKEN })).toBe('/elsewhere/[redacted]');
  });
});
