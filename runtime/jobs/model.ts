import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { PRIORITY_CLASSES, PriorityClass } from '../../contract/priority';

/**
 * The asynchronous job model shared by the proxy (which creates jobs) and the worker (which
 * runs them): identifiers, statuses, the message on the queue and what a job record holds.
 */

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Statuses a job never leaves. */
export const FINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export function isFinalStatus(status: JobStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** Model-server endpoints a job may target (OpenAI-compatible). */
export const JOB_ENDPOINTS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const;
export type JobEndpoint = (typeof JOB_ENDPOINTS)[number];

/** A region name as job ids and the `regions` config carry it (e.g. `eu-west-1`). */
export const REGION_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * A job id: 128 random bits, base64url (22 characters), unguessable and not derived from input;
 * with a home region, `<region>.<random>` (e.g. `eu-west-1.3q2-7wEAAbQ...`), so any region can tell
 * where the job lives and forward a poll there. The random part is the same either way.
 */
export function newJobId(homeRegion?: string): string {
  const random = randomBytes(16).toString('base64url');
  if (homeRegion === undefined) return random;
  if (!REGION_NAME_PATTERN.test(homeRegion)) throw new Error(`newJobId: "${homeRegion}" is not a region name (${REGION_NAME_PATTERN})`);
  return `${homeRegion}.${random}`;
}

const JOB_ID_PATTERN = /^(?:[a-z][a-z0-9-]{0,31}\.)?[A-Za-z0-9_-]{22}$/;

export function isJobId(value: unknown): value is string {
  return typeof value === 'string' && JOB_ID_PATTERN.test(value);
}

/** The home region a job id names, or undefined for an id without one (single-region deployments). */
export function homeRegionOf(id: string): string | undefined {
  const dot = id.indexOf('.');
  return dot === -1 ? undefined : id.slice(0, dot);
}

/**
 * The owner of a job as stored: a SHA-256 of the API key's identity, so a Redis dump does not
 * reveal keys, and comparing owners never needs the key itself.
 */
export function ownerOf(apiKeyIdentity: string): string {
  return createHash('sha256').update(`surgeguard-job-owner:${apiKeyIdentity}`).digest('base64url');
}

/** The hashed form of an Idempotency-Key, scoped by its owner in the store. */
export function hashIdempotencyKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}

/**
 * What an Idempotency-Key stands for: the request type, class, callback and request body of the
 * submission. A retry with the same key and another fingerprint is a different request (409).
 */
export function submissionFingerprint(parts: { endpoint: string; priorityClass: string; callbackUrl?: string; request: Buffer }): string {
  return createHash('sha256')
    .update(JSON.stringify([parts.endpoint, parts.priorityClass, parts.callbackUrl ?? null]))
    .update('\n')
    .update(parts.request)
    .digest('base64url');
}

/** Validates an Idempotency-Key header value (printable ASCII, bounded length). */
export function isValidIdempotencyKey(value: string): boolean {
  return value.length >= 1 && value.length <= 255 && /^[\x21-\x7e]+$/.test(value);
}

/** Version of the message format on the queue; a consumer rejects versions it does not know. */
export const JOB_MESSAGE_VERSION = 1;

/** The body of a job message as published to RabbitMQ. */
export const jobMessageSchema = z.object({
  v: z.literal(JOB_MESSAGE_VERSION),
  id: z.string().regex(JOB_ID_PATTERN),
  owner: z.string().min(1).max(128),
  priorityClass: z.enum(PRIORITY_CLASSES),
  endpoint: z.enum(JOB_ENDPOINTS),
  /** The OpenAI request body, as submitted (already validated by the proxy). */
  request: z.record(z.string(), z.unknown()),
  /** When the proxy accepted the job (epoch ms), for queue-lag metrics. */
  submittedAt: z.number().int().nonnegative(),
  /** Where to POST the finished job (checked against the allow-list by proxy and worker). */
  callbackUrl: z.string().url().max(2048).optional(),
});
export type JobMessage = z.infer<typeof jobMessageSchema>;

/** Header carrying how many delayed retries a job message has been through. */
export const RETRY_COUNT_HEADER = 'x-surgeguard-retries';
/** Header carrying why a message was dead-lettered by the worker. */
export const DEAD_LETTER_REASON_HEADER = 'x-surgeguard-dead-letter-reason';

export function encodeJobMessage(message: JobMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

export type DecodeResult = { ok: true; message: JobMessage } | { ok: false; reason: string; id?: string };

/** Parses and validates a message body; never throws. */
export function decodeJobMessage(content: Buffer): DecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content.toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed: body is not JSON' };
  }
  const result = jobMessageSchema.safeParse(parsed);
  if (result.success) return { ok: true, message: result.data };
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
  const maybeId = (parsed as { id?: unknown } | null)?.id;
  return {
    ok: false,
    reason: `malformed: ${where}: ${issue?.message ?? 'invalid'}`,
    ...(isJobId(maybeId) ? { id: maybeId } : {}),
  };
}

/** An error as stored on a failed job and returned to the client. */
export interface JobError {
  /** Short machine-readable kind: `upstream_error`, `retries_exhausted`, `malformed`, ... */
  readonly type: string;
  readonly message: string;
  /** HTTP status the upstream answered, when the failure came from it. */
  readonly upstreamStatus?: number;
  /** The upstream's error body, when it sent one. */
  readonly upstreamBody?: unknown;
}

/** A job as the store returns it. */
export interface JobRecord {
  readonly id: string;
  readonly owner: string;
  readonly status: JobStatus;
  readonly priorityClass: PriorityClass;
  readonly endpoint: JobEndpoint;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** Times a worker started the job (more than 1 after a crash or a transient retry). */
  readonly attempts: number;
  /** Digest of the submission (endpoint, class, callback, request): an Idempotency-Key replay must match it. */
  readonly fingerprint?: string;
  /** True once the broker confirmed the job message. */
  readonly published: boolean;
  readonly result?: unknown;
  readonly error?: JobError;
  /** The last transient error, while the job waits for a retry. */
  readonly lastError?: JobError;
  readonly callbackUrl?: string;
}

/** The public view of a job, as `GET /v1/jobs/{id}` returns it (no owner). */
export function publicView(job: JobRecord): Record<string, unknown> {
  return {
    id: job.id,
    object: 'job',
    status: job.status,
    priority: job.priorityClass,
    endpoint: job.endpoint,
    created_at: Math.floor(job.createdAt / 1000),
    ...(job.startedAt !== undefined ? { started_at: Math.floor(job.startedAt / 1000) } : {}),
    ...(job.finishedAt !== undefined ? { finished_at: Math.floor(job.finishedAt / 1000) } : {}),
    attempts: job.attempts,
    ...(job.result !== undefined ? { result: job.result } : {}),
    ...(job.error !== undefined ? { error: job.error } : {}),
  };
}
