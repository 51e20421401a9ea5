import type { Readable } from 'node:stream';
import { AttemptError, UpstreamHttpClient } from '../common/upstream/http-client';
import { parseRetryAfterMs } from '../common/backoff';
import type { TimeoutsConfig } from '../common/config/upstream';
import type { Clock } from '../common/clock';
import type { UpstreamDispatcher } from '../common/upstream/dispatcher';
import type { UpstreamPool } from '../common/upstream/upstream-pool';
import type { JobEndpoint } from '../jobs/model';
import { isTransientStatus } from '../common/retry-policy';
import { ModelOutcome } from './outcome';

/** How the worker reaches the model: one call per job, outcome classified. */
export interface ModelClient {
  /**
   * Sends one job's request. `jobId` goes upstream as `x-surgeguard-job-id` (tracing, and
   * duplicate analysis on the model server's side). Never throws: failures are outcomes.
   */
  call(jobId: string, endpoint: JobEndpoint, request: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<ModelOutcome>;
  close(): Promise<void>;
}

/** Header carrying the job id to the model server. */
export const JOB_ID_HEADER = 'x-surgeguard-job-id';

/** Largest model response the worker stores (a job result lives in Redis). */
export const MAX_RESULT_BYTES = 8 * 1024 * 1024;

/** The request body a job sends: streaming makes no sense for a stored result. */
export function jobRequestBody(request: Readonly<Record<string, unknown>>): string {
  return JSON.stringify({ ...request, stream: false });
}

/** Reads a JSON body up to `limit` bytes; undefined when empty, the raw text when not JSON. */
export async function readJsonBody(body: Readable, limit = MAX_RESULT_BYTES): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += buf.length;
    if (size > limit) {
      body.destroy();
      throw new Error(`response body larger than ${limit} bytes`);
    }
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Maps an upstream HTTP answer to an outcome. */
export function classifyResponse(status: number, body: unknown, retryAfterMs: number | undefined): ModelOutcome {
  if (status >= 200 && status < 300) {
    if (body === undefined || typeof body === 'string') {
      return { kind: 'transient', reason: `upstream answered ${status} without a JSON body`, status };
    }
    return { kind: 'success', status, body };
  }
  const reason = `upstream answered ${status}`;
  if (isTransientStatus(status)) {
    return { kind: 'transient', reason, status, body, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  return { kind: 'permanent', reason, status, body };
}

/** Maps a failure before any response (connect, timeout, reset) to a transient outcome. */
export function classifyError(err: unknown): ModelOutcome {
  if (err instanceof AttemptError) return { kind: 'transient', reason: err.message };
  return { kind: 'transient', reason: `upstream call failed: ${(err as Error)?.message ?? String(err)}` };
}

/**
 * The model servers through the same upstream layer as the proxy: the pool's balancer, circuit
 * breakers, outlier detection, health state and the dispatcher's retry rules (shared code in
 * runtime/common/upstream). What the dispatcher cannot turn into a response becomes a transient
 * outcome, and the queue's delay tiers are the retry layer after it.
 */
export class DispatcherModelClient implements ModelClient {
  constructor(
    private readonly pools: readonly UpstreamPool[],
    private readonly dispatcher: UpstreamDispatcher,
    private readonly clock: Clock,
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {
    if (pools.length === 0) throw new Error('DispatcherModelClient: at least one pool is required');
  }

  async call(jobId: string, endpoint: JobEndpoint, request: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<ModelOutcome> {
    const result = await this.dispatcher.dispatch({
      method: 'POST',
      path: endpoint,
      headers: { 'content-type': 'application/json', accept: 'application/json', [JOB_ID_HEADER]: jobId, 'x-request-id': jobId },
      body: jobRequestBody(request),
      chain: this.pools,
      deadline: this.clock.now() + this.pools[0]!.config.timeouts.totalMs,
      signal,
    });
    if (!result.ok && result.reason === 'request-error') {
      // the job's request cannot be sent at all: retrying cannot help
      return { kind: 'permanent', reason: `the request could not be sent: ${result.message ?? 'invalid request'}`, status: 400, body: null };
    }
    if (!result.ok) {
      const detail = result.lastErrorKind ? ` (last error: ${result.lastErrorKind})` : '';
      return {
        kind: 'transient',
        reason: `no upstream answer after ${result.attempts} attempt(s): ${result.reason}${detail}`,
        ...(result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {}),
      };
    }
    let body: unknown;
    try {
      body = await readJsonBody(result.body);
      result.finish('complete');
    } catch (err) {
      result.finish(signal.aborted ? 'aborted' : 'error');
      return classifyError(err);
    }
    return classifyResponse(result.statusCode, body, parseRetryAfterMs(result.headers['retry-after'], Date.now()));
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

/**
 * One model server over the shared upstream HTTP client (keep-alive pool, connect / first
 * byte / idle timeouts), without pools, breakers or retries: for a single known endpoint
 * (tests, a sidecar model server). Production workers use {@link DispatcherModelClient}.
 */
export class HttpModelClient implements ModelClient {
  private readonly client: UpstreamHttpClient;

  constructor(
    origin: string,
    timeouts: TimeoutsConfig,
    connections: number,
    private readonly headers: Readonly<Record<string, string>> = {},
  ) {
    this.client = new UpstreamHttpClient(origin, timeouts, connections);
  }

  async call(jobId: string, endpoint: JobEndpoint, request: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<ModelOutcome> {
    try {
      const reply = await this.client.send({
        method: 'POST',
        path: endpoint,
        headers: { ...this.headers, 'content-type': 'application/json', accept: 'application/json', [JOB_ID_HEADER]: jobId },
        body: jobRequestBody(request),
        signal,
      });
      const body = await readJsonBody(reply.body);
      return classifyResponse(reply.statusCode, body, parseRetryAfterMs(reply.headers['retry-after'], Date.now()));
    } catch (err) {
      return classifyError(err);
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
