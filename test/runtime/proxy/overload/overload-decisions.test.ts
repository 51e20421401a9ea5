import type { DispatchResult } from '../../../../runtime/common/upstream/dispatcher';
import { releaseOutcome } from '../../../../runtime/proxy/overload/release-outcome';
import { shedReply } from '../../../../runtime/proxy/overload/replies';
import { parseRequestTimeout } from '../../../../runtime/proxy/overload/request-timeout';

const ok = (statusCode: number) => ({ ok: true, statusCode }) as unknown as DispatchResult;
const failed = (reason: string, lastErrorKind?: string) => ({ ok: false, reason, attempts: 1, lastErrorKind }) as unknown as DispatchResult;

describe('X-Request-Timeout', () => {
  it('reads seconds, decimals and milliseconds with a unit', () => {
    expect(parseRequestTimeout({ 'x-request-timeout': '10' })).toBe(10_000);
    expect(parseRequestTimeout({ 'x-request-timeout': '2.5' })).toBe(2_500);
    expect(parseRequestTimeout({ 'x-request-timeout': '750ms' })).toBe(750);
    expect(parseRequestTimeout({ 'x-request-timeout': ' 3s ' })).toBe(3_000);
  });

  it('ignores values that are absent, zero or malformed', () => {
    expect(parseRequestTimeout({})).toBeUndefined();
    expect(parseRequestTimeout({ 'x-request-timeout': '0' })).toBeUndefined();
    expect(parseRequestTimeout({ 'x-request-timeout': '-1' })).toBeUndefined();
    expect(parseRequestTimeout({ 'x-request-timeout': 'soon' })).toBeUndefined();
  });

  it('caps absurd values at a day', () => {
    expect(parseRequestTimeout({ 'x-request-timeout': '999999999' })).toBe(24 * 3_600_000);
  });
});

describe('what an upstream attempt tells the adaptive limit', () => {
  it('treats 503 and 429 answers, timeouts and passed deadlines as overload', () => {
    expect(releaseOutcome(ok(503), 10).kind).toBe('overload');
    expect(releaseOutcome(ok(429), 10).kind).toBe('overload');
    expect(releaseOutcome(failed('upstream-error', 'timeout'), 10).kind).toBe('overload');
    expect(releaseOutcome(failed('deadline'), 10).kind).toBe('overload');
  });

  it('treats other failures as errors that say nothing about capacity', () => {
    expect(releaseOutcome(ok(500), 10).kind).toBe('error');
    expect(releaseOutcome(failed('upstream-error', 'connect'), 10).kind).toBe('error');
    expect(releaseOutcome(failed('no-upstream'), 10).kind).toBe('error');
    expect(releaseOutcome(ok(200), 10, 'error').kind).toBe('error');
  });

  it('takes a complete 2xx as a latency sample and a client abort as no sample', () => {
    expect(releaseOutcome(ok(200), 420, 'complete')).toEqual({ kind: 'success', latencyMs: 420 });
    expect(releaseOutcome(ok(200), 420, 'aborted')).toEqual({ kind: 'cancelled' });
    expect(releaseOutcome(failed('aborted'), 10)).toEqual({ kind: 'cancelled' });
  });
});

describe('what an upstream attempt tells the adaptive limit, exactly', () => {
  it('keeps the latency with every sample that has one', () => {
    expect(releaseOutcome(ok(503), 12)).toEqual({ kind: 'overload', latencyMs: 12 });
    expect(releaseOutcome(ok(502), 12)).toEqual({ kind: 'error', latencyMs: 12 });
    expect(releaseOutcome(ok(200), 12, 'error')).toEqual({ kind: 'error', latencyMs: 12 });
    expect(releaseOutcome(failed('deadline'), 12)).toEqual({ kind: 'overload', latencyMs: 12 });
    expect(releaseOutcome(failed('upstream-error', 'timeout'), 12)).toEqual({ kind: 'overload', latencyMs: 12 });
    expect(releaseOutcome(failed('upstream-error', 'reset'), 12)).toEqual({ kind: 'error', latencyMs: 12 });
    expect(releaseOutcome(failed('no-upstream'), 12)).toEqual({ kind: 'error', latencyMs: 12 });
  });

  it('reads a client error other than 429 as a served request, and a 5xx answer as an error even when its body was aborted', () => {
    expect(releaseOutcome(ok(404), 30, 'complete')).toEqual({ kind: 'success', latencyMs: 30 });
    expect(releaseOutcome(ok(499), 30)).toEqual({ kind: 'success', latencyMs: 30 });
    expect(releaseOutcome(ok(500), 30, 'aborted')).toEqual({ kind: 'error', latencyMs: 30 });
    expect(releaseOutcome(ok(429), 30, 'aborted')).toEqual({ kind: 'overload', latencyMs: 30 });
  });

  it('takes nothing from a request that was never sent', () => {
    expect(releaseOutcome(failed('request-error'), 30)).toEqual({ kind: 'cancelled' });
  });
});

describe('shed answer', () => {
  it('is a 503 with an OpenAI-style body, the reason and the Retry-After of the shed decision', () => {
    const reply = shedReply({ kind: 'shed', cls: 'low', reason: 'evicted', retryAfterSeconds: 7, queuedMs: 120 });
    expect(reply.status).toBe(503);
    expect(reply.headers).toEqual({ 'retry-after': '7', 'x-surgeguard-shed': 'evicted' });
    expect(reply.body).toMatchObject({ error: { type: 'service_unavailable', code: 'overloaded', param: null } });
    expect((reply.body as { error: { message: string } }).error.message).toMatch(/low request was shed because higher-priority requests took its place.*retry after 7 s/);
  });
});
