import { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { resolveUrlSecret } from '../common/config/secrets';
import { AMQP_PROTOCOLS, callbackUrlProblem, jobKeyPrefix, ProxyJobsConfig, topologyOf } from '../jobs/config';
import { hashIdempotencyKey, isJobId, isValidIdempotencyKey, JobEndpoint, ownerOf, publicView, JobRecord, submissionFingerprint } from '../jobs/model';
import { BrokerUnavailableError, JobPublisher } from '../jobs/publisher';
import { PublishError } from '../jobs/amqp';
import { createRedisClient, type RedisClient } from '../common/redis';
import type { RedisConnectionConfig } from '../common/config/redis';
import { RedisJobStore } from '../jobs/store';
import { IdempotencyConflictError, JobSubmitter } from '../jobs/submit';
import { openAIError } from './errors';
import type { ModelRouter } from './model-router';
import { readRequestBody } from './request-body';
import type { ApiPath, CallerContext } from './request-context';
import type { RequestPipeline, RequestRecord } from './request-pipeline';
import { badRequest, bodyReadFailureReply, parseJsonBody, requestBodyProblem } from './request-validation';
import type { ServerConfig } from './config';
import { forwardJobRequest, homeRegionUnavailable } from './region-forwarder';
import { FORWARDED_BY_HEADER, registrarRegion, routeJob, type RegionsConfig } from './regions';

/** Largest answer accepted from a home region (a finished job with its result). */
const MAX_FORWARDED_ANSWER_BYTES = 64 * 1024 * 1024;

/** Where job routes live. */
export const JOBS_PATH = '/v1/jobs';

/** `Prefer: respond-async` (RFC 7240) on a model request asks for a job instead of a held-open answer. */
export function prefersAsync(req: IncomingMessage): boolean {
  const prefer = req.headers.prefer;
  const values = Array.isArray(prefer) ? prefer : prefer ? [prefer] : [];
  return values.some((v) => v.split(',').some((p) => p.trim().toLowerCase().split(';')[0]!.trim() === 'respond-async'));
}

export interface JobsApiDeps {
  readonly config: ProxyJobsConfig;
  readonly server: ServerConfig;
  /** The proxy's Redis connection settings; the API opens its own client for job records. */
  readonly redis: RedisConnectionConfig;
  readonly pipeline: RequestPipeline;
  readonly router: ModelRouter;
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
  /**
   * The environment's regions: new ids name this one, requests for jobs of another region and
   * keyed submissions registered elsewhere are forwarded to that region's endpoint.
   * @default - one region: ids without a region, everything answered here
   */
  readonly regions?: RegionsConfig;
}

/** Inferred model endpoint of a bare OpenAI body sent to POST /v1/jobs. */
function endpointOf(body: Record<string, unknown>): JobEndpoint | undefined {
  if (Array.isArray(body.messages)) return '/v1/chat/completions';
  if (body.prompt !== undefined) return '/v1/completions';
  if (body.input !== undefined) return '/v1/embeddings';
  return undefined;
}

/**
 * The asynchronous job API of the proxy:
 *   POST   /v1/jobs          an OpenAI request body -> 202 {id, status} + Location
 *   POST   /v1/chat/completions (and the others) with `Prefer: respond-async` -> the same
 *   GET    /v1/jobs/{id}     status, and the result or error once finished
 *   DELETE /v1/jobs/{id}     cancels a job no worker has started
 * A job is visible only to the API key that created it: any other key gets the same 404 as an
 * unknown id. The 202 is sent only after the broker confirmed the message; when the broker is
 * unreachable the answer is an immediate 503 and synchronous traffic is untouched.
 * Across regions (`regions`): a job id names its home region and any region answers for it by
 * forwarding to the home region with the caller's credentials (checked there); a submission with
 * an Idempotency-Key is registered and run by one region chosen from the key (`registrarRegion`),
 * so a retry in another region finds the first job. A home region that cannot be reached gives a
 * 503 naming it with a Retry-After, never a 404: its jobs are kept there (durable queue, records).
 */
export class JobsApi {
  readonly publisher: JobPublisher;
  readonly store: RedisJobStore;
  private readonly submitter: JobSubmitter;
  private readonly redis: RedisClient;

  constructor(private readonly deps: JobsApiDeps) {
    const amqp = deps.config.amqp;
    this.publisher = new JobPublisher({
      url: resolveUrlSecret(amqp.url, deps.env, 'jobs.amqp.url', AMQP_PROTOCOLS),
      topology: topologyOf(amqp),
      connectionName: 'surgeguard-proxy',
      confirmTimeoutMs: amqp.confirmTimeoutMs,
      backoff: { baseMs: amqp.reconnectBaseMs, capMs: amqp.reconnectMaxMs },
      logger: deps.logger,
    });
    this.redis = createRedisClient(deps.redis, deps.env, 'durable');
    this.redis.on('error', (err: Error) => deps.logger.warn({ err: err.message }, 'job store redis error'));
    this.store = new RedisJobStore(this.redis, { keyPrefix: jobKeyPrefix(deps.redis.keyPrefix), ttlSeconds: deps.config.records.ttlSeconds });
    this.submitter = new JobSubmitter(this.store, this.publisher, Date.now, deps.regions?.self);
  }

  start(): void {
    this.publisher.start();
  }

  async close(): Promise<void> {
    await this.publisher.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** True for /v1/jobs and /v1/jobs/{id}. */
  handles(path: string): boolean {
    return path === JOBS_PATH || path.startsWith(`${JOBS_PATH}/`);
  }

  async handle(req: IncomingMessage, res: ServerResponse, record: RequestRecord): Promise<void> {
    const { pipeline } = this.deps;
    const method = req.method ?? 'GET';
    if (record.path === JOBS_PATH) {
      if (method !== 'POST') return this.methodNotAllowed(res, 'POST');
      const caller = pipeline.identify(req, res, record);
      if (!caller) return undefined;
      return this.submit(req, res, caller, undefined);
    }
    const id = record.path.slice(JOBS_PATH.length + 1);
    if (method !== 'GET' && method !== 'DELETE') return this.methodNotAllowed(res, 'GET, DELETE');
    const caller = pipeline.identify(req, res, record);
    if (!caller) return undefined;
    if (!isJobId(id)) return this.notFound(res);
    const routing = routeJob(id, this.deps.regions, isForwarded(req));
    if (routing.kind === 'unknown-region') return this.notFound(res);
    if (routing.kind === 'forward') return this.forward(req, res, routing.region, routing.url, method);
    const owner = this.ownerOf(caller);
    try {
      if (method === 'GET') {
        const job = await this.store.getOwned(id, owner);
        if (!job) return this.notFound(res);
        return pipeline.reply(res, { status: 200, headers: this.pollHeaders(job), body: publicView(job) });
      }
      const result = await this.store.cancel(id, owner);
      if (result.outcome === 'not-found') return this.notFound(res);
      if (result.outcome === 'not-cancellable') {
        return pipeline.reply(res, {
          status: 409,
          body: {
            ...openAIError(`Job ${id} is ${result.job.status}; only a queued job can be cancelled.`, 'invalid_request_error', 'job_not_cancellable'),
            job: publicView(result.job),
          },
        });
      }
      return pipeline.reply(res, { status: 200, body: publicView(result.job) });
    } catch (err) {
      return this.storeUnavailable(res, err);
    }
  }

  /** POST /v1/jobs, or a model endpoint with Prefer: respond-async (`path` set). */
  async submitFromModelRequest(req: IncomingMessage, res: ServerResponse, path: ApiPath, record: RequestRecord): Promise<void> {
    const caller = this.deps.pipeline.identify(req, res, record);
    if (!caller) return undefined;
    return this.submit(req, res, caller, path);
  }

  private async submit(req: IncomingMessage, res: ServerResponse, caller: CallerContext, path: ApiPath | undefined): Promise<void> {
    const { pipeline, server } = this.deps;
    const bad = (message: string, code: string, param: string | null = null) =>
      pipeline.reply(res, { status: 400, body: openAIError(message, 'invalid_request_error', code, param) });

    const idempotencyKey = headerValue(req, 'idempotency-key');
    if (idempotencyKey !== undefined && !isValidIdempotencyKey(idempotencyKey)) {
      return bad('Idempotency-Key must be 1-255 printable ASCII characters.', 'invalid_idempotency_key');
    }
    const callbackUrl = headerValue(req, 'x-callback-url');
    if (callbackUrl !== undefined) {
      const problem = callbackUrlProblem(callbackUrl, this.deps.config.callbacks);
      if (problem) return bad(`X-Callback-Url refused: ${problem}.`, 'invalid_callback_url');
    }
    const read = await readRequestBody(req, server.maxBodyBytes, server.bodyTimeoutMs);
    if (!read.ok) return pipeline.reply(res, bodyReadFailureReply(read));
    const parsed = parseJsonBody(read.body, server.maxJsonDepth);
    if (!parsed.ok) return pipeline.reply(res, badRequest(parsed.problem));
    const body = parsed.json;
    const endpoint = path ?? endpointOf(body);
    if (!endpoint) {
      return bad('Cannot tell the request type: send `messages` (chat), `prompt` (completions) or `input` (embeddings).', 'unknown_job_type');
    }
    const problem = requestBodyProblem(body, endpoint);
    if (problem) return pipeline.reply(res, badRequest(problem));
    const model = body.model as string;
    if (!this.deps.router.resolve(model)) {
      return pipeline.reply(res, { status: 404, body: openAIError(`The model ${model} does not exist.`, 'not_found_error', 'model_not_found', 'model') });
    }
    if (body.stream === true) return bad('Asynchronous jobs cannot stream; omit `stream` or set it to false.', 'stream_not_supported', 'stream');
    const regions = this.deps.regions;
    if (regions && idempotencyKey !== undefined && !isForwarded(req)) {
      // The key's registrar region holds its mapping and runs its job: a retry anywhere lands there.
      const registrar = registrarRegion(regions, this.ownerOf(caller), hashIdempotencyKey(idempotencyKey));
      if (registrar !== regions.self) return this.forward(req, res, registrar, regions.peers[registrar]!.url, 'POST', read.body);
    }

    let result;
    try {
      result = await this.submitter.submit({
        owner: this.ownerOf(caller),
        priorityClass: caller.priorityClass,
        endpoint,
        request: body,
        ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
        ...(callbackUrl !== undefined ? { callbackUrl } : {}),
        fingerprint: submissionFingerprint({ endpoint, priorityClass: caller.priorityClass, callbackUrl, request: read.body }),
      });
    } catch (err) {
      if (err instanceof IdempotencyConflictError) {
        return pipeline.reply(res, {
          status: 409,
          body: {
            ...openAIError(
              'This Idempotency-Key was already used with a different request (body, endpoint, class or callback); use a new key for a new request.',
              'invalid_request_error',
              'idempotency_key_reused',
            ),
            job: publicView(err.job),
          },
        });
      }
      if (err instanceof BrokerUnavailableError || err instanceof PublishError) {
        this.deps.logger.warn({ err: (err as Error).message }, 'job refused: broker unavailable');
        return pipeline.reply(res, {
          status: 503,
          headers: { 'retry-after': '5' },
          body: openAIError(
            `The job queue is unavailable (${(err as Error).message}); the job was not accepted. Retry after 5 s, or send the request synchronously.`,
            'service_unavailable',
            'job_queue_unavailable',
          ),
        });
      }
      return this.storeUnavailable(res, err);
    }
    const { job, created } = result;
    const location = `${JOBS_PATH}/${job.id}`;
    return pipeline.reply(res, {
      status: 202,
      headers: { location, ...(created ? {} : { 'idempotent-replayed': 'true' }), ...this.pollHeaders(job) },
      body: { ...publicView(job), url: location },
    });
  }

  /**
   * Answers with the home region's answer to the same request, or a 503 naming the region when it
   * cannot be reached or has no healthy proxy: the job is not lost, it waits there.
   */
  private async forward(req: IncomingMessage, res: ServerResponse, region: string, url: string, method: 'GET' | 'DELETE' | 'POST', body?: Buffer): Promise<void> {
    const regions = this.deps.regions!;
    const result = await forwardJobRequest({
      baseUrl: url,
      method,
      path: req.url ?? '/',
      incoming: req,
      ...(body ? { body } : {}),
      fromRegion: regions.self,
      timeoutMs: regions.forwardTimeoutMs,
      maxResponseBytes: MAX_FORWARDED_ANSWER_BYTES,
    });
    if (result.ok && !homeRegionUnavailable(result.reply.status)) {
      const { status, headers, body: answer } = result.reply;
      return this.deps.pipeline.reply(res, { status, headers: { ...headers, 'x-surgeguard-region': region }, body: answer });
    }
    const why = result.ok ? `it answered ${result.reply.status}` : result.reason;
    this.deps.logger.warn({ region, why }, 'home region unavailable');
    const retryAfter = String(regions.retryAfterSeconds);
    const what = method === 'POST' ? 'This Idempotency-Key is registered in' : 'This job lives in';
    return this.deps.pipeline.reply(res, {
      status: 503,
      headers: { 'retry-after': retryAfter, 'x-surgeguard-region': region },
      body: {
        ...openAIError(
          `${what} region ${region}, which is unavailable (${why}). Nothing is lost: it is kept there and answered again when the region is back; retry after ${retryAfter} s.`,
          'service_unavailable',
          'home_region_unavailable',
        ),
        region,
      },
    });
  }

  private ownerOf(caller: CallerContext): string {
    return ownerOf(caller.key?.name ?? 'anonymous');
  }

  /** A hint for pollers while the job is not finished. */
  private pollHeaders(job: JobRecord): Record<string, string> {
    return job.status === 'queued' || job.status === 'running' ? { 'retry-after': '1' } : {};
  }

  private notFound(res: ServerResponse): void {
    this.deps.pipeline.reply(res, { status: 404, body: openAIError('No such job.', 'not_found_error', 'job_not_found') });
  }

  private storeUnavailable(res: ServerResponse, err: unknown): void {
    this.deps.logger.error({ err: (err as Error)?.message }, 'job store unavailable');
    this.deps.pipeline.reply(res, {
      status: 503,
      headers: { 'retry-after': '5' },
      body: openAIError('The job store is unavailable; retry after 5 s.', 'service_unavailable', 'job_store_unavailable'),
    });
  }

  private methodNotAllowed(res: ServerResponse, allow: string): void {
    this.deps.pipeline.reply(res, {
      status: 405,
      headers: { allow },
      body: openAIError(`Method not allowed; use ${allow}.`, 'invalid_request_error', 'method_not_allowed'),
    });
  }
}

/** True for a request a peer region forwarded here (answered here, never forwarded again). */
function isForwarded(req: IncomingMessage): boolean {
  return req.headers[FORWARDED_BY_HEADER] !== undefined;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined ? undefined : s.trim();
}
