import { describe, expect, it } from 'vitest';
import { requestLogLevel } from '../../src/logging/request-log-level.js';

describe('request log level', () => {
  const level = (method: string, url: string, statusCode: number, err?: Error) => requestLogLevel({ method, url }, { statusCode }, err);

  it('logs successful polls of progress and live numbers at debug', () => {
    expect(level('GET', '/api/campaigns/12/progress', 200)).toBe('debug');
    expect(level('GET', '/dashboard/campaigns/12/live.json', 200)).toBe('debug');
    expect(level('GET', '/dashboard/campaigns/12/live.json?x=1', 200)).toBe('debug');
  });

  it('logs everything else at info: refused or failed polls, writes, pages', () => {
    expect(level('GET', '/api/campaigns/12/progress', 401)).toBe('info');
    expect(level('GET', '/api/campaigns/12/progress', 403)).toBe('info');
    expect(level('GET', '/api/campaigns/12/progress', 500)).toBe('info');
    expect(level('GET', '/api/campaigns/12/progress', 200, new Error('boom'))).toBe('info');
    expect(level('POST', '/api/campaigns/12/pause', 200)).toBe('info');
    expect(level('GET', '/dashboard/campaigns/12', 200)).toBe('info');
    expect(level('GET', '/api/campaigns/12/progress/../../operators', 200)).toBe('info');
  });
});
