import { Redis } from 'ioredis';
import { RedisJobStore } from '../../../runtime/jobs/store';
import { hashIdempotencyKey, newJobId, ownerOf } from '../../../runtime/jobs/model';
import { connectRedis, deleteKeys, uniqueName } from '../../support/services';

describe('RedisJobStore (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let store: RedisJobStore;
  let now = 1_700_000_000_000;
  const alice = ownerOf('alice');
  const bob = ownerOf('bob');

  beforeAll(async () => {
    redis = await connectRedis();
    prefix = `${uniqueName('store')}:`;
    store = new RedisJobStore(redis, { keyPrefix: prefix, ttlSeconds: 3_600, now: () => now });
  });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  const newJob = (owner = alice) => ({ id: newJobId(), owner, priorityClass: 'high' as const, endpoint: '/v1/chat/completions' as const });

  it('creates a queued job with a TTL and reads it back', async () => {
    const job = newJob();
    const created = await store.create(job);
    expect(created.created).toBe(true);
    const read = await store.get(job.id);
    expect(read).toEqual({
      id: job.id,
      owner: alice,
      status: 'queued',
      priorityClass: 'high',
      endpoint: '/v1/chat/completions',
      createdAt: now,
      updatedAt: now,
      attempts: 0,
      published: false,
    });
    const ttl = await redis.ttl(store.jobKey(job.id));
    expect(ttl).toBeGreaterThan(3_500);
    expect(await store.markPublished(job.id)).toBe(true);
    expect((await store.get(job.id))?.published).toBe(true);
  });

  it('returns the first job for a repeated Idempotency-Key of the same owner, and a new one for another owner', async () => {
    const key = hashIdempotencyKey('order-42');
    const first = await store.create(newJob(), key);
    const second = await store.create(newJob(), key);
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.job.id).toBe(first.job.id);
    const other = await store.create(newJob(bob), key);
    expect(other.created).toBe(true);
    expect(other.job.id).not.toBe(first.job.id);
  });

  it('keeps exactly one job when the same Idempotency-Key is submitted concurrently', async () => {
    const key = hashIdempotencyKey('burst');
    const results = await Promise.all(Array.from({ length: 20 }, () => store.create(newJob(), key)));
    const ids = new Set(results.map((r) => r.job.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
  });

  it('hides a job from any owner but its creator', async () => {
    const job = newJob();
    await store.create(job);
    expect(await store.getOwned(job.id, alice)).toBeDefined();
    expect(await store.getOwned(job.id, bob)).toBeUndefined();
  });

  it('claims a queued job, stores the first result and ignores any later one', async () => {
    const job = newJob();
    await store.create(job);
    now += 1_000;
    expect(await store.claim(job.id)).toEqual({ outcome: 'claimed', attempts: 1 });
    expect(await store.succeed(job.id, { answer: 1 })).toBe('stored');
    expect(await store.succeed(job.id, { answer: 2 })).toBe('already-final');
    expect(await store.fail(job.id, { type: 'x', message: 'late failure' })).toBe('already-final');
    const read = await store.get(job.id);
    expect(read).toMatchObject({ status: 'succeeded', result: { answer: 1 }, attempts: 1, startedAt: now, finishedAt: now });
    expect(read?.error).toBeUndefined();
    expect(await store.claim(job.id)).toEqual({ outcome: 'final', status: 'succeeded' });
  });

  it('counts a second claim (a redelivery after a crash) as a second attempt', async () => {
    const job = newJob();
    await store.create(job);
    await store.claim(job.id);
    expect(await store.claim(job.id)).toEqual({ outcome: 'claimed', attempts: 2 });
  });

  it('puts a running job back to queued with the last error while it waits for a retry', async () => {
    const job = newJob();
    await store.create(job);
    await store.claim(job.id);
    expect(await store.requeue(job.id, { type: 'upstream_unavailable', message: 'upstream answered 503' })).toBe('stored');
    expect(await store.get(job.id)).toMatchObject({ status: 'queued', lastError: { message: 'upstream answered 503' } });
    await store.claim(job.id);
    await store.fail(job.id, { type: 'upstream_error', message: 'upstream answered 400', upstreamStatus: 400 });
    const read = await store.get(job.id);
    expect(read).toMatchObject({ status: 'failed', error: { upstreamStatus: 400 } });
    expect(read?.lastError).toBeUndefined();
  });

  it('cancels a job that has not started, and then a worker does not claim it', async () => {
    const job = newJob();
    await store.create(job);
    const cancelled = await store.cancel(job.id, alice);
    expect(cancelled.outcome).toBe('cancelled');
    expect(await store.claim(job.id)).toEqual({ outcome: 'final', status: 'cancelled' });
  });

  it('refuses to cancel a running job, and answers not-found for another owner', async () => {
    const job = newJob();
    await store.create(job);
    expect((await store.cancel(job.id, bob)).outcome).toBe('not-found');
    await store.claim(job.id);
    const result = await store.cancel(job.id, alice);
    expect(result.outcome).toBe('not-cancellable');
    if (result.outcome === 'not-cancellable') expect(result.job.status).toBe('running');
  });

  it('discards a job whose message never reached the broker, freeing its Idempotency-Key', async () => {
    const key = hashIdempotencyKey('broker-was-down');
    const job = newJob();
    await store.create(job, key);
    await store.discard(job, key);
    expect(await store.get(job.id)).toBeUndefined();
    const again = await store.create(newJob(), key);
    expect(again.created).toBe(true);
  });

  it('reports a missing job on claim and finish', async () => {
    const id = newJobId();
    expect(await store.claim(id)).toEqual({ outcome: 'missing' });
    expect(await store.succeed(id, {})).toBe('missing');
  });
});
