import type { RedisClient } from '../common/redis';
import { isPriorityClass, PriorityClass } from '../../contract/priority';
import { JOB_ENDPOINTS, JOB_STATUSES, JobEndpoint, JobError, JobRecord, JobStatus } from './model';

/**
 * Job records in Redis: one hash per job (`<prefix>job:{<id>}`), plus an Idempotency-Key
 * mapping per owner (`<prefix>idem:{<owner>}:<sha256(key)>` -> job id). Every state change is
 * a Lua script on the job's own key, so a transition is atomic and each script touches one
 * hash slot (safe on a Redis cluster). Results are first-writer-wins: once a job is final,
 * no later write (a redelivered copy, a duplicate message) changes it.
 */

export interface JobStoreOptions {
  /** Key prefix, e.g. `surgeguard:`; tests use a unique one. */
  readonly keyPrefix: string;
  /** Lifetime of a job record and its result, in seconds (refreshed when the job finishes). */
  readonly ttlSeconds: number;
  /** Clock (epoch ms). @default Date.now */
  readonly now?: () => number;
  /**
   * Results are durable only once this many replicas acknowledged them (Redis `WAIT`, sent after
   * the write on the same connection, to the node that holds the job). Fewer within `timeoutMs`:
   * the write throws {@link ResultNotDurableError}, so the worker does not ack and retries.
   * @default { replicas: 0 } (no wait: a primary without replicas)
   */
  readonly durability?: { readonly replicas: number; readonly timeoutMs: number };
}

/** A finished job's write reached fewer replicas than required within the timeout. */
export class ResultNotDurableError extends Error {
  constructor(
    readonly acknowledged: number,
    readonly required: number,
  ) {
    super(`job result acknowledged by ${acknowledged} of ${required} required replica(s); not acknowledging the message`);
    this.name = 'ResultNotDurableError';
  }
}

export interface NewJob {
  readonly id: string;
  readonly owner: string;
  readonly priorityClass: PriorityClass;
  readonly endpoint: JobEndpoint;
  readonly callbackUrl?: string;
  /** Digest of what was submitted (see `submissionFingerprint`): an Idempotency-Key replay must match it. */
  readonly fingerprint?: string;
}

export type CreateResult =
  | { readonly created: true; readonly job: JobRecord }
  | { readonly created: false; readonly job: JobRecord };

export type ClaimResult =
  | { readonly outcome: 'claimed'; readonly attempts: number }
  | { readonly outcome: 'final'; readonly status: JobStatus }
  | { readonly outcome: 'missing' };

export type FinishResult = 'stored' | 'already-final' | 'missing';

export type CancelResult =
  | { readonly outcome: 'cancelled'; readonly job: JobRecord }
  | { readonly outcome: 'not-cancellable'; readonly job: JobRecord }
  | { readonly outcome: 'not-found' };

const CLAIM = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
if status == 'succeeded' or status == 'failed' or status == 'cancelled' then return {'final', status} end
redis.call('HSET', KEYS[1], 'status', 'running', 'startedAt', ARGV[1], 'updatedAt', ARGV[1])
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return {'claimed', tostring(attempts)}
`;

// ARGV: status, now, field, json, ttl
const FINISH = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'succeeded' or status == 'failed' or status == 'cancelled' then return 'already-final' end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finishedAt', ARGV[2], 'updatedAt', ARGV[2], ARGV[3], ARGV[4])
redis.call('HDEL', KEYS[1], 'lastError')
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return 'stored'
`;

// Rewrites a final job's status with its own value: a write that changes nothing but is
// replicated, so a WAIT after it on this connection covers everything the node holds for the job
// (the result another connection wrote included). A read-only connection's WAIT would count
// every connected replica at once, however far behind.
const TOUCH_FINAL = `
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'succeeded' or status == 'failed' or status == 'cancelled' then
  redis.call('HSET', KEYS[1], 'status', status)
  return 1
end
return 0
`;

// ARGV: now, lastError json
const REQUEUE = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'succeeded' or status == 'failed' or status == 'cancelled' then return 'already-final' end
redis.call('HSET', KEYS[1], 'status', 'queued', 'updatedAt', ARGV[1], 'lastError', ARGV[2])
return 'stored'
`;

// ARGV: owner, now, ttl
const CANCEL = `
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner or owner ~= ARGV[1] then return 'not-found' end
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 'not-cancellable' end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[2], 'updatedAt', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 'cancelled'
`;

const MARK_PUBLISHED = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'published', '1')
return 1
`;

// Deletes the idempotency mapping only while it still points at this job.
const DELETE_IF_EQUALS = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export class RedisJobStore {
  private readonly prefix: string;
  private readonly ttlSeconds: number;
  private readonly now: () => number;
  private readonly durability: { readonly replicas: number; readonly timeoutMs: number };

  constructor(
    private readonly redis: RedisClient,
    options: JobStoreOptions,
  ) {
    if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds < 1) {
      throw new Error(`JobStore: ttlSeconds must be a positive integer, got ${options.ttlSeconds}`);
    }
    this.prefix = options.keyPrefix;
    this.ttlSeconds = options.ttlSeconds;
    this.now = options.now ?? Date.now;
    this.durability = options.durability ?? { replicas: 0, timeoutMs: 0 };
  }

  jobKey(id: string): string {
    return `${this.prefix}job:{${id}}`;
  }

  idempotencyKey(owner: string, keyHash: string): string {
    return `${this.prefix}idem:{${owner}}:${keyHash}`;
  }

  /**
   * Creates a queued job. With an idempotency key hash, a second creation by the same owner
   * returns the first job instead (`created: false`). The record is written before the
   * mapping, so a mapping never points at a job that was not written.
   */
  async create(job: NewJob, idempotencyKeyHash?: string): Promise<CreateResult> {
    const now = this.now();
    const key = this.jobKey(job.id);
    const fields: Record<string, string> = {
      owner: job.owner,
      status: 'queued',
      class: job.priorityClass,
      endpoint: job.endpoint,
      createdAt: String(now),
      updatedAt: String(now),
      attempts: '0',
      published: '0',
    };
    if (job.callbackUrl !== undefined) fields.callbackUrl = job.callbackUrl;
    if (job.fingerprint !== undefined) fields.fingerprint = job.fingerprint;
    if (idempotencyKeyHash !== undefined) fields.idem = idempotencyKeyHash;
    await this.redis.multi().hset(key, fields).expire(key, this.ttlSeconds).exec().then(checkMulti);
    const created = parseRecord(job.id, fields);
    if (idempotencyKeyHash === undefined) return { created: true, job: created };

    const idemKey = this.idempotencyKey(job.owner, idempotencyKeyHash);
    const set = await this.redis.set(idemKey, job.id, 'EX', this.ttlSeconds, 'NX');
    if (set === 'OK') return { created: true, job: created };
    const existingId = await this.redis.get(idemKey);
    const existing = existingId === null ? undefined : await this.get(existingId);
    if (existing && existing.owner === job.owner) {
      await this.redis.del(key);
      return { created: false, job: existing };
    }
    // The earlier job expired (or its mapping outlived it): this submission takes the key over.
    await this.redis.set(idemKey, job.id, 'EX', this.ttlSeconds);
    return { created: true, job: created };
  }

  /** Removes a job whose message never reached the broker, and its idempotency mapping. */
  async discard(job: NewJob, idempotencyKeyHash?: string): Promise<void> {
    await this.redis.del(this.jobKey(job.id));
    if (idempotencyKeyHash !== undefined) {
      await this.redis.eval(DELETE_IF_EQUALS, 1, this.idempotencyKey(job.owner, idempotencyKeyHash), job.id);
    }
  }

  /** Records that the broker confirmed the job's message. */
  async markPublished(id: string): Promise<boolean> {
    return (await this.redis.eval(MARK_PUBLISHED, 1, this.jobKey(id))) === 1;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const fields = await this.redis.hgetall(this.jobKey(id));
    if (!fields.status) return undefined;
    return parseRecord(id, fields);
  }

  /** The job if it exists and belongs to `owner`; another owner's job is indistinguishable from none. */
  async getOwned(id: string, owner: string): Promise<JobRecord | undefined> {
    const job = await this.get(id);
    return job && job.owner === owner ? job : undefined;
  }

  /** A worker starts the job: queued|running -> running, attempts + 1. Final jobs are left alone. */
  async claim(id: string): Promise<ClaimResult> {
    const reply = (await this.redis.eval(CLAIM, 1, this.jobKey(id), String(this.now()))) as string[];
    if (reply[0] === 'claimed') return { outcome: 'claimed', attempts: Number(reply[1]) };
    if (reply[0] === 'final') return { outcome: 'final', status: reply[1] as JobStatus };
    return { outcome: 'missing' };
  }

  /** Stores the result unless the job is already final (first writer wins). */
  async succeed(id: string, result: unknown): Promise<FinishResult> {
    return this.finish(id, 'succeeded', 'result', JSON.stringify(result));
  }

  /** Stores the error unless the job is already final (first writer wins). */
  async fail(id: string, error: JobError): Promise<FinishResult> {
    return this.finish(id, 'failed', 'error', JSON.stringify(error));
  }

  /** A running job goes back to queued to wait for a delayed retry, keeping the error seen. */
  async requeue(id: string, lastError: JobError): Promise<FinishResult> {
    const now = String(this.now());
    return (await this.redis.eval(REQUEUE, 1, this.jobKey(id), now, JSON.stringify(lastError))) as FinishResult;
  }

  /** Cancels a job of `owner` that no worker has started. */
  async cancel(id: string, owner: string): Promise<CancelResult> {
    const key = this.jobKey(id);
    const reply = (await this.redis.eval(CANCEL, 1, key, owner, String(this.now()), String(this.ttlSeconds))) as string;
    if (reply === 'not-found') return { outcome: 'not-found' };
    const job = await this.get(id);
    if (!job) return { outcome: 'not-found' };
    return reply === 'cancelled' ? { outcome: 'cancelled', job } : { outcome: 'not-cancellable', job };
  }

  /**
   * For a job found final (a redelivered message whose outcome an earlier attempt stored): resolves
   * once the stored outcome is on the required replicas, else throws {@link ResultNotDurableError}.
   * The earlier attempt's own WAIT may have failed (no replica), and its worker stopped before it
   * could retry: acking the copy on the read alone would leave the result on the primary only.
   */
  async ensureDurable(id: string): Promise<void> {
    const { replicas, timeoutMs } = this.durability;
    if (replicas === 0) return;
    const results = await this.redis.pipeline().eval(TOUCH_FINAL, 1, this.jobKey(id)).call('wait', String(replicas), String(timeoutMs)).exec();
    checkMulti(results);
    const acknowledged = Number(results![1]![1]);
    if (acknowledged < replicas) throw new ResultNotDurableError(acknowledged, replicas);
  }

  private async finish(id: string, status: JobStatus, field: string, json: string): Promise<FinishResult> {
    const now = String(this.now());
    const args = [status, now, field, json, String(this.ttlSeconds)];
    const { replicas, timeoutMs } = this.durability;
    if (replicas === 0) return (await this.redis.eval(FINISH, 1, this.jobKey(id), ...args)) as FinishResult;
    // One pipeline, so WAIT goes over the connection that wrote (in cluster mode: to the node
    // holding the job's slot) and counts the replicas that have this write. A retry after a
    // failure writes nothing new (first writer wins) but waits again for the earlier write.
    const results = await this.redis.pipeline().eval(FINISH, 1, this.jobKey(id), ...args).call('wait', String(replicas), String(timeoutMs)).exec();
    checkMulti(results);
    const acknowledged = Number(results![1]![1]);
    if (acknowledged < replicas) throw new ResultNotDurableError(acknowledged, replicas);
    return results![0]![1] as FinishResult;
  }
}

function checkMulti(results: [Error | null, unknown][] | null): void {
  if (results === null) throw new Error('JobStore: transaction aborted');
  for (const [err] of results) if (err) throw err;
}

function optionalNumber(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

function optionalJson<T>(value: string | undefined): T | undefined {
  return value === undefined ? undefined : (JSON.parse(value) as T);
}

function parseRecord(id: string, f: Record<string, string>): JobRecord {
  const status = f.status as JobStatus;
  if (!JOB_STATUSES.includes(status)) throw new Error(`JobStore: job ${id} has unknown status ${f.status}`);
  if (!isPriorityClass(f.class)) throw new Error(`JobStore: job ${id} has unknown class ${f.class}`);
  const endpoint = f.endpoint as JobEndpoint;
  if (!JOB_ENDPOINTS.includes(endpoint)) throw new Error(`JobStore: job ${id} has unknown endpoint ${f.endpoint}`);
  const record: JobRecord = {
    id,
    owner: f.owner ?? '',
    status,
    priorityClass: f.class,
    endpoint,
    createdAt: Number(f.createdAt),
    updatedAt: Number(f.updatedAt),
    startedAt: optionalNumber(f.startedAt),
    finishedAt: optionalNumber(f.finishedAt),
    attempts: Number(f.attempts ?? 0),
    published: f.published === '1',
    result: optionalJson(f.result),
    error: optionalJson<JobError>(f.error),
    lastError: optionalJson<JobError>(f.lastError),
    callbackUrl: f.callbackUrl,
    fingerprint: f.fingerprint,
  };
  // Drop undefined optionals so records compare and serialise cleanly.
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as unknown as JobRecord;
}
