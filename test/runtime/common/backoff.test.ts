import { execFileSync } from 'node:child_process';
import { backoffMs, parseRetryAfterMs, RECONNECT_MIN_SHARE } from '../../../runtime/common/backoff';

/** The proxy's retry backoff: full jitter, retry n (1-based) as the dispatcher calls it. */
const fullJitterBackoffMs = (retry: number, baseMs: number, capMs: number, random: () => number) => backoffMs(retry - 1, { baseMs, capMs }, random);

describe('fullJitterBackoffMs', () => {
  it('draws uniformly below base x 2^(n-1)', () => {
    expect(fullJitterBackoffMs(1, 1_000, 30_000, () => 0.999)).toBe(999);
    expect(fullJitterBackoffMs(2, 1_000, 30_000, () => 0.5)).toBe(1_000);
    expect(fullJitterBackoffMs(3, 1_000, 30_000, () => 0.5)).toBe(2_000);
    expect(fullJitterBackoffMs(1, 1_000, 30_000, () => 0)).toBe(0);
  });

  it('never exceeds the cap', () => {
    expect(fullJitterBackoffMs(20, 1_000, 30_000, () => 0.9999)).toBeLessThan(30_000);
    expect(fullJitterBackoffMs(20, 1_000, 30_000, () => 0.5)).toBe(15_000);
  });
});

describe('parseRetryAfterMs', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfterMs('3', 0)).toBe(3_000);
    expect(parseRetryAfterMs(' 1.5 ', 0)).toBe(1_500);
  });

  it('reads an HTTP date relative to now and never goes negative', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfterMs('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
  });

  it('reads multi-digit delta-seconds and the first of repeated headers', () => {
    expect(parseRetryAfterMs('120', 5_000)).toBe(120_000);
    expect(parseRetryAfterMs(['30', '1'], 0)).toBe(30_000);
  });

  it('reads an HTTP date in the future as the wait from now, to the millisecond', () => {
    const now = Date.parse('2026-01-01T00:00:00.250Z');
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:02:00 GMT', now)).toBe(119_750);
  });

  it('reads the obsolete RFC 850 date form', () => {
    const now = Date.parse('1994-11-06T08:49:00Z');
    expect(parseRetryAfterMs('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(37_000);
  });

  it('reads all three HTTP-date forms as GMT in a process whose local time zone is not UTC (asctime carries no zone)', () => {
    // Jest's process.env is a copy, so TZ cannot be changed in this process: a child with TZ set
    // loads this very source (transpiled) and answers the three waits and its own UTC offset.
    const script = `
      const ts = require('typescript');
      const src = require('fs').readFileSync(${JSON.stringify(require.resolve('../../../runtime/common/backoff'))}, 'utf8');
      const m = { exports: {} };
      new Function('module', 'exports', 'require', ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText)(m, m.exports, require);
      const now = Date.parse('1994-11-06T08:49:00Z');
      const waits = ['Sun Nov  6 08:49:37 1994', 'Sun, 06 Nov 1994 08:49:37 GMT', 'Sunday, 06-Nov-94 08:49:37 GMT'].map((d) => m.exports.parseRetryAfterMs(d, now));
      process.stdout.write(JSON.stringify({ offset: new Date(now).getTimezoneOffset(), waits }));`;
    const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, TZ: 'America/New_York' }, cwd: process.cwd(), timeout: 30_000 });
    expect(JSON.parse(out.toString())).toEqual({ offset: 300, waits: [37_000, 37_000, 37_000] });
  });

  it('reads a two-digit RFC 850 year as the most recent past year ending so, never more than 50 years ahead', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs('Thursday, 01-Jan-26 00:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfterMs('Friday, 01-Jan-77 00:00:00 GMT', now)).toBe(0); // 1977, not 2077
  });

  it('reads the last valid day, hour, minute and a leap second, in any letter case', () => {
    const now = Date.parse('2024-02-29T23:59:00Z');
    expect(parseRetryAfterMs('Thu, 29 Feb 2024 23:59:59 GMT', now)).toBe(59_000);
    expect(parseRetryAfterMs('THU, 29 FEB 2024 23:59:30 gmt', now)).toBe(30_000);
    expect(parseRetryAfterMs('Thu, 29 Feb 2024 23:59:60 GMT', now)).toBe(59_000); // a leap second reads as :59
    expect(parseRetryAfterMs('Thu Feb 29 23:59:10 2024', now)).toBe(10_000);
    expect(parseRetryAfterMs('Thu Feb  1 00:00:00 2024', Date.parse('2024-01-31T23:59:59Z'))).toBe(1_000);
  });

  it('reads a two-digit RFC 850 year exactly 50 years ahead as ahead', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs('Wednesday, 01-Jan-76 00:00:00 GMT', now)).toBe(Date.parse('2076-01-01T00:00:00Z') - now);
  });

  it('refuses a date that is not one of the three forms, or names an impossible day or time', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:10 +0100', now)).toBeUndefined(); // only GMT
    expect(parseRetryAfterMs('Thu, 32 Jan 2026 00:00:10 GMT', now)).toBeUndefined();
    expect(parseRetryAfterMs('Thu, 01 Foo 2026 00:00:10 GMT', now)).toBeUndefined();
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 24:00:10 GMT', now)).toBeUndefined();
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 GMT', now)).toBeUndefined();
    expect(parseRetryAfterMs('Thu, 00 Jan 2026 00:00:10 GMT', now)).toBeUndefined();
    expect(parseRetryAfterMs('Sat, 31 Feb 2026 00:00:10 GMT', now)).toBeUndefined(); // not 3 March
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 23:60:00 GMT', now)).toBeUndefined();
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 23:59:61 GMT', now)).toBeUndefined();
    expect(parseRetryAfterMs('Thu Jan 01 00:00:10 2026 GMT', now)).toBeUndefined(); // asctime has no zone
    expect(parseRetryAfterMs('Thu, 01-Jan-26 00:00:10 GMT', now)).toBeUndefined(); // RFC 850 spells the day out
  });

  it('ignores absent and garbage values, including text the lenient Date.parse would read as a year', () => {
    expect(parseRetryAfterMs('12abc', 0)).toBeUndefined();
    expect(parseRetryAfterMs('-5', 0)).toBeUndefined();
    expect(parseRetryAfterMs('later 2099', Date.parse('2026-01-01T00:00:00Z'))).toBeUndefined();
    expect(parseRetryAfterMs(undefined, 0)).toBeUndefined();
    expect(parseRetryAfterMs('soon', 0)).toBeUndefined();
  });
});

describe('backoffMs for reconnect loops', () => {
  it('keeps at least a tenth of the ceiling, so a reconnect loop never spins', () => {
    expect(backoffMs(0, { baseMs: 100, capMs: 1_000, minShare: RECONNECT_MIN_SHARE }, () => 0)).toBe(10);
    expect(backoffMs(3, { baseMs: 100, capMs: 1_000, minShare: RECONNECT_MIN_SHARE }, () => 0)).toBe(80);
  });

  it('doubles the ceiling per attempt up to the cap', () => {
    expect(backoffMs(0, { baseMs: 100, capMs: 1_000, minShare: RECONNECT_MIN_SHARE }, () => 0.5)).toBe(55);
    expect(backoffMs(2, { baseMs: 100, capMs: 1_000, minShare: RECONNECT_MIN_SHARE }, () => 0.5)).toBe(220);
    expect(backoffMs(40, { baseMs: 100, capMs: 1_000, minShare: RECONNECT_MIN_SHARE }, () => 0.9999)).toBeLessThan(1_000);
  });
});
