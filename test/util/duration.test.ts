import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/util/duration.js';

describe('durations', () => {
  it.each([
    ['0', 0],
    ['90', 90],
    ['90s', 90],
    ['15m', 900],
    ['1h30m', 5400],
    ['2d', 172800],
    ['1w', 604800],
    [' 5M ', 300],
  ])('parses %j as %d s', (text, s) => {
    expect(parseDuration(text)).toBe(s);
  });

  it.each(['', 'm', '15x', '1h 30m', '-5', '1.5h', 'h1', '15m!'])('rejects %j naming the input', (text) => {
    expect(() => parseDuration(text)).toThrow(`"${text}" is not a duration`);
  });

  it('formats for people', () => {
    expect(formatDuration(12)).toBe('12s');
    expect(formatDuration(270)).toBe('4m30s');
    expect(formatDuration(3900)).toBe('1h05m');
    expect(formatDuration(-3)).toBe('0s');
    expect(formatDuration(200000)).toBe('2d07h');
  });
});
