import fc from 'fast-check';
import { closestName, durationMs, integerIn, MAX_TIMER_MS, oneOf, optionsObject, rejectUnknownKeys } from '../../src/settings-validation';
import { configError } from '../support/rejection';

const KNOWN = ['bootstrapServers', 'clientId', 'requestTimeoutMs', 'connectionTimeoutMs', 'maxPollRecords', 'groupId'];

describe('closestName', () => {
  it.each([
    ['requestTimeout', 'requestTimeoutMs'],
    ['requesttimeoutms', 'requestTimeoutMs'],
    ['bootstrapServer', 'bootstrapServers'],
    ['bootstrapSevers', 'bootstrapServers'],
    ['groupID', 'groupId'],
    ['maxPolRecords', 'maxPollRecords'],
    ['clinetId', 'clientId'],
  ])('%s → %s', (typo, meant) => {
    expect(closestName(typo, KNOWN)).toBe(meant);
  });

  it('offers nothing for a name that is nowhere near', () => {
    expect(closestName('compression', KNOWN)).toBeUndefined();
  });

  it('never throws and only ever suggests a known name', () => {
    fc.assert(
      fc.property(fc.string(), (name) => {
        const guess = closestName(name, KNOWN);
        expect(guess === undefined || KNOWN.includes(guess)).toBe(true);
      }),
    );
  });
});

describe('rejectUnknownKeys', () => {
  it('names the unknown key and the one meant', () => {
    const error = configError(() => rejectUnknownKeys('Client.connect$', { requestTimeout: 3000 }, KNOWN));
    expect(error.message).toContain("'requestTimeout'");
    expect(error.message).toContain("did you mean 'requestTimeoutMs'?");
    expect(error.message).toContain('Client.connect$');
  });

  it('refuses a typo even when its value is undefined', () => {
    configError(() => rejectUnknownKeys('Consumer', { groupID: undefined }, KNOWN));
  });

  it('accepts known keys', () => {
    expect(() => rejectUnknownKeys('Consumer', { groupId: 'g', clientId: undefined }, KNOWN)).not.toThrow();
  });
});

describe('values', () => {
  it('durations above setTimeout’s limit are refused (they would fire at once)', () => {
    expect(durationMs('deliveryTimeoutMs', MAX_TIMER_MS)).toBe(MAX_TIMER_MS);
    expect(configError(() => durationMs('deliveryTimeoutMs', MAX_TIMER_MS + 1)).message).toContain('2147483647');
    configError(() => durationMs('x', Number.NaN));
    configError(() => durationMs('x', '10'));
    configError(() => durationMs('x', -1));
  });

  it('integers, enumerations and options objects', () => {
    expect(integerIn('n', 3, 1, 5)).toBe(3);
    configError(() => integerIn('n', 3.5, 1, 5));
    configError(() => integerIn('n', 6, 1, 5));
    expect(oneOf('mode', 'a', ['a', 'b'] as const)).toBe('a');
    expect(configError(() => oneOf('mode', 'c', ['a', 'b'] as const)).message).toContain("'a', 'b'");
    expect(optionsObject('X', undefined)).toEqual({});
    configError(() => optionsObject('X', 9092 as unknown as object));
  });
});
