import { describe, expect, it } from 'vitest';
import { isOpaqueToken, newOpaqueToken } from '../../src/common/tokens.js';

describe('isOpaqueToken', () => {
  it('accepts what newOpaqueToken makes', () => {
    for (let i = 0; i < 50; i++) expect(isOpaqueToken(newOpaqueToken())).toBe(true);
    expect(isOpaqueToken('Zq3vR8kLm2Np5sT7wX9yB1cD4fG6hJ0aE3iK5oU7uQ1')).toBe(true);
    expect(isOpaqueToken('-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-')).toBe(true);
  });

  it.each([
    ['42 characters', 'Zq3vR8kLm2Np5sT7wX9yB1cD4fG6hJ0aE3iK5oU7uQ'],
    ['44 characters', 'Zq3vR8kLm2Np5sT7wX9yB1cD4fG6hJ0aE3iK5oU7uQ1x'],
    ['standard base64', 'Zq3vR8kLm2Np5sT7wX9yB1cD4fG6hJ0aE3iK5oU7u+/'],
    ['padding', 'Zq3vR8kLm2Np5sT7wX9yB1cD4fG6hJ0aE3iK5oU7uQ='],
    ['a line break', 'Zq3vR8kLm2Np5sT7wX9yB1cD4fG6hJ0aE3iK5oU7uQ1\n'],
    ['a path', '../../../../../../../../../../etc/passwd/xx'],
    ['empty', ''],
  ])('refuses %s', (_, value) => {
    expect(isOpaqueToken(value)).toBe(false);
  });

  it('refuses what is not a string', () => {
    for (const value of [undefined, null, 42, ['Zq3vR8kLm2Np5sT7wX9yB1cD4fG6hJ0aE3iK5oU7uQ1'], { length: 43 }]) expect(isOpaqueToken(value)).toBe(false);
  });
});
