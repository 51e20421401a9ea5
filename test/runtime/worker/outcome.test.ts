import { decide, deliveryLimitReached } from '../../../runtime/worker/outcome';
import { classifyError, classifyResponse } from '../../../runtime/worker/model-client';
import { AttemptError } from '../../../runtime/common/upstream/http-client';

describe('classifying model answers', () => {
  it('treats a 2xx JSON answer as success', () => {
    expect(classifyResponse(200, { id: 'x' }, undefined)).toEqual({ kind: 'success', status: 200, body: { id: 'x' } });
  });

  it.each([429, 502, 503, 504, 408])('treats %i as transient and keeps Retry-After', (status) => {
    const outcome = classifyResponse(status, { error: 'busy' }, 2_000);
    expect(outcome).toMatchObject({ kind: 'transient', status, retryAfterMs: 2_000 });
  });

  it.each([400, 401, 404, 422])('treats %i as permanent with the upstream body', (status) => {
    expect(classifyResponse(status, { error: { message: 'bad' } }, undefined)).toEqual({
      kind: 'permanent',
      status,
      body: { error: { message: 'bad' } },
      reason: `upstream answered ${status}`,
    });
  });

  it('treats a 2xx without a JSON body as transient (nothing to store)', () => {
    expect(classifyResponse(200, 'not json', undefined).kind).toBe('transient');
  });

  it('treats connect failures and timeouts as transient', () => {
    expect(classifyError(new AttemptError('connect', new Error('ECONNREFUSED'))).kind).toBe('transient');
    expect(classifyError(new AttemptError('timeout', new Error('headers timeout'))).kind).toBe('transient');
  });
});

describe('deciding what happens to a job', () => {
  it('stores the result of a success', () => {
    expect(decide({ kind: 'success', status: 200, body: { ok: 1 } }, 0, 5)).toEqual({ action: 'succeed', result: { ok: 1 } });
  });

  it('fails a job the upstream refused, with the upstream status and body', () => {
    const d = decide({ kind: 'permanent', status: 400, body: { error: 'bad prompt' }, reason: 'upstream answered 400' }, 0, 5);
    expect(d).toEqual({
      action: 'fail',
      error: { type: 'upstream_error', message: 'upstream answered 400', upstreamStatus: 400, upstreamBody: { error: 'bad prompt' } },
    });
  });

  it('retries a transient failure later while retries remain', () => {
    const d = decide({ kind: 'transient', status: 503, reason: 'upstream answered 503' }, 2, 5);
    expect(d).toMatchObject({ action: 'retry-later', retry: 2, error: { type: 'upstream_unavailable', upstreamStatus: 503 } });
  });

  it('dead-letters a transient failure once the retries are used up, saying why', () => {
    const d = decide({ kind: 'transient', status: 503, reason: 'upstream answered 503' }, 5, 5);
    expect(d.action).toBe('dead-letter');
    if (d.action !== 'dead-letter') throw new Error('unreachable');
    expect(d.reason).toBe('retries exhausted after 6 attempts: upstream answered 503');
    expect(d.error).toMatchObject({ type: 'retries_exhausted', upstreamStatus: 503 });
  });

  it('dead-letters at once when no retries are allowed', () => {
    expect(decide({ kind: 'transient', reason: 'upstream timeout' }, 0, 0).action).toBe('dead-letter');
  });

  it('stops one delivery before the broker delivery limit', () => {
    expect(deliveryLimitReached(18, 20)).toBe(false);
    expect(deliveryLimitReached(19, 20)).toBe(true);
  });

  it('keeps upstream status and body in the job error only when the upstream sent them', () => {
    expect(decide({ kind: 'transient', reason: 'connect refused' }, 0, 3)).toEqual({
      action: 'retry-later',
      retry: 0,
      error: { type: 'upstream_unavailable', message: 'connect refused' },
    });
    expect(decide({ kind: 'transient', reason: 'upstream answered 429', status: 429, body: { error: 'slow down' } }, 1, 3)).toEqual({
      action: 'retry-later',
      retry: 1,
      error: { type: 'upstream_unavailable', message: 'upstream answered 429', upstreamStatus: 429, upstreamBody: { error: 'slow down' } },
    });
    expect(decide({ kind: 'permanent', reason: 'upstream answered 404', status: 404, body: undefined }, 0, 3)).toEqual({
      action: 'fail',
      error: { type: 'upstream_error', message: 'upstream answered 404', upstreamStatus: 404 },
    });
  });

  it('uses the last retry allowed, then dead-letters with the reason as the error message', () => {
    expect(decide({ kind: 'transient', reason: 'upstream timeout' }, 2, 3).action).toBe('retry-later');
    expect(decide({ kind: 'transient', reason: 'upstream timeout', body: 'x' }, 3, 3)).toEqual({
      action: 'dead-letter',
      reason: 'retries exhausted after 4 attempts: upstream timeout',
      error: { type: 'retries_exhausted', message: 'retries exhausted after 4 attempts: upstream timeout', upstreamBody: 'x' },
    });
  });

  it('dead-letters on the last delivery before the limit and on any later one', () => {
    expect(deliveryLimitReached(20, 20)).toBe(true);
    expect(deliveryLimitReached(0, 1)).toBe(true);
    expect(deliveryLimitReached(0, 2)).toBe(false);
  });
});
