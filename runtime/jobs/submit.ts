import type { PriorityClass } from '../../contract/priority';
import { encodeJobMessage, hashIdempotencyKey, JobEndpoint, JobMessage, JobRecord, JOB_MESSAGE_VERSION, newJobId } from './model';
import type { RedisJobStore } from './store';
import { BrokerUnavailableError } from './publisher';

/** What a submitter needs from a publisher (the JobPublisher, in production). */
export interface JobMessagePublisher {
  /** Publishes `encoded` (the message's bytes, made by the submitter) and waits for the confirm. */
  publish(message: JobMessage, encoded?: Buffer): Promise<void>;
  /** False while no broker connection is up (a publish would fail at once). */
  readonly ready?: boolean;
}

/** The same Idempotency-Key was sent earlier with a different request. */
export class IdempotencyConflictError extends Error {
  constructor(readonly job: JobRecord) {
    super(`Idempotency-Key was already used for job ${job.id} with a different request`);
    this.name = 'IdempotencyConflictError';
  }
}

export interface SubmitRequest {
  /** Hashed owner (see `ownerOf`). */
  readonly owner: string;
  readonly priorityClass: PriorityClass;
  readonly endpoint: JobEndpoint;
  /** The OpenAI request body, validated by the caller. */
  readonly request: Record<string, unknown>;
  /** The raw Idempotency-Key header, when sent. */
  readonly idempotencyKey?: string;
  readonly callbackUrl?: string;
  /** `submissionFingerprint` of the request; with an Idempotency-Key, a replay must match it. */
  readonly fingerprint?: string;
}

export interface SubmitResult {
  /** False when an Idempotency-Key matched an earlier job, which is returned instead. */
  readonly created: boolean;
  readonly job: JobRecord;
}

/**
 * Accepting a job: write the record, publish the message, wait for the broker's confirm, then
 * mark it published. If publishing fails the error propagates (the proxy answers 503) and the
 * record (and its Idempotency-Key) is removed, unless the message may have been sent and the
 * client can retry with the same Idempotency-Key (see below).
 * A repeated Idempotency-Key whose first submission never got its confirm (the proxy died in
 * between) publishes again: at-least-once publishing, made exactly-once by the worker's
 * idempotent results.
 */
export class JobSubmitter {
  constructor(
    private readonly store: RedisJobStore,
    private readonly publisher: JobMessagePublisher,
    private readonly now: () => number = Date.now,
    /** Region new job ids name as their home (`<region>.<random>`). @default - ids without a region */
    private readonly homeRegion?: string,
  ) {}

  async submit(req: SubmitRequest): Promise<SubmitResult> {
    const idem = req.idempotencyKey === undefined ? undefined : hashIdempotencyKey(req.idempotencyKey);
    const id = newJobId(this.homeRegion);
    // Known to be publishable before anything is written: the message encodes, and a broker
    // connection is up. A record is never left behind for a submission that could not be sent.
    const message = this.message(id, req);
    const encoded = encodeJobMessage(message);
    if (this.publisher.ready === false) throw new BrokerUnavailableError('job queue unavailable (no broker connection)');
    const newJob = {
      id,
      owner: req.owner,
      priorityClass: req.priorityClass,
      endpoint: req.endpoint,
      ...(req.callbackUrl !== undefined ? { callbackUrl: req.callbackUrl } : {}),
      ...(req.fingerprint !== undefined ? { fingerprint: req.fingerprint } : {}),
    };
    const created = await this.store.create(newJob, idem);
    if (!created.created) {
      const earlier = created.job;
      if (earlier.fingerprint !== undefined && req.fingerprint !== undefined && earlier.fingerprint !== req.fingerprint) {
        throw new IdempotencyConflictError(earlier);
      }
      if (!earlier.published && earlier.status === 'queued') {
        // The earlier submission's message may never have reached the broker.
        await this.publish(this.message(earlier.id, req));
        await this.store.markPublished(earlier.id);
        return { created: false, job: { ...earlier, published: true } };
      }
      return { created: false, job: earlier };
    }
    try {
      await this.publisher.publish(message, encoded);
    } catch (err) {
      // Nothing was sent (no connection): the job never existed. Sent but unconfirmed (channel
      // lost, confirm timeout): the message may be on the queue, so with an Idempotency-Key the
      // record stays for the client's retry to find and publish again; without one it goes.
      const uncertain = !(err instanceof BrokerUnavailableError);
      if (!(uncertain && idem !== undefined)) await this.store.discard(newJob, idem).catch(() => undefined);
      throw err;
    }
    await this.store.markPublished(id);
    return { created: true, job: { ...created.job, published: true } };
  }

  private publish(message: JobMessage): Promise<void> {
    return this.publisher.publish(message);
  }

  private message(id: string, req: SubmitRequest): JobMessage {
    return {
      v: JOB_MESSAGE_VERSION,
      id,
      owner: req.owner,
      priorityClass: req.priorityClass,
      endpoint: req.endpoint,
      request: req.request,
      submittedAt: this.now(),
      ...(req.callbackUrl !== undefined ? { callbackUrl: req.callbackUrl } : {}),
    };
  }
}
