import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Cancellation } from '../common/cancellation';
import { Clock } from '../common/clock';
import { BodyOutcome, DispatchFailure, UpstreamDispatcher } from '../common/upstream/dispatcher';
import { AccessLog } from './access-log';
import { KeyAuthenticator } from './auth';
import { ProxyConfig } from './config';
import { openAIError } from './errors';
import { ProxyMetrics } from './metrics';
import { ModelRouter } from './model-router';
import { classifyRequest } from './priority';
import { API_ENDPOINTS, ApiPath, CallerContext, LocalReply, RequestContext } from './request-context';
import { readRequestBody } from './request-body';
import { badRequest, bodyReadFailureReply, parseJsonBody, parseRequestTimeoutHeader, requestBodyProblem } from './request-validation';
import { BufferedAnswer, OverloadControl } from './overload/control';
import { ReadmittingSender } from './overload/readmission';
import { CACHE_HEADER, shedReply } from './overload/replies';
import type { CachedResponse } from './cache/response-cache';
import { dispatchFailureReply, sendReply } from './replies';
import { DROPPED_RESPONSE_HEADERS, relayResponse } from './stream-relay';

export interface PipelineDeps {
  readonly config: ProxyConfig;
  readonly clock: Clock;
  readonly auth: KeyAuthenticator;
  readonly router: ModelRouter;
  readonly dispatcher: UpstreamDispatcher;
  readonly metrics: ProxyMetrics;
  /** One line per finished request; absent: no access log. */
  readonly accessLog?: AccessLog;
  /** Rate limit, cache + coalescing, admission, canary; absent: requests go straight to dispatch. */
  readonly overload?: OverloadControl;
}

/** What is known about a request for its metrics and access log; filled in as it progresses. */
export interface RequestRecord {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly startedAt: number;
  class: string;
  pool: string;
  upstream: string;
  key: string | undefined;
  model: string | undefined;
  attempts: number;
  ttfbMs: number | undefined;
  /** Set when the response failed after its first byte. */
  streamError: string | undefined;
  /** The client disconnected before the response ended. */
  clientAborted: boolean;
  /**
   * Aborted when the client disconnects; the dispatcher also aborts it when the request deadline
   * passes (one cancellation per request, and no AbortController unless a stage needs a signal).
   */
  readonly cancellation: Cancellation;
}

/** Set when X-Priority / X-Realtime asked for a class above the key's `maxClass`: `<asked>-><served>`. */
export const PRIORITY_LOWERED_HEADER = 'x-surgeguard-priority-lowered';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request path of the OpenAI-compatible endpoints, in the order decisions are taken:
 *
 *   auth -> class -> parse (body, model, route) -> [rate limit] -> [cache] -> [admission]
 *        -> route -> breaker -> send -> retry   (UpstreamDispatcher, shared with the worker)
 *        -> relay (streaming with backpressure)
 *
 * `handleModelRequest` is that order on one screen; each step is a call into its own module
 * (auth, priority, request-validation, overload/ with overload/readmission for admission -> dispatch,
 * the dispatcher, stream-relay, replies).
 * Every stage either lets the request continue or answers it with a LocalReply. Stages after
 * parsing receive the RequestContext (key, class, user key, deadline, parsed body, route, client
 * abort signal) and may shorten its deadline.
 */
export class RequestPipeline {
  /** SSE relays in progress, each with a function that ends it with an error event. */
  private readonly streams = new Map<ServerResponse, (message: string) => void>();

  /** admission -> dispatch, with re-admission when a pool answers "full" or fails. */
  private readonly sender: ReadmittingSender;

  constructor(private readonly deps: PipelineDeps) {
    this.sender = new ReadmittingSender(deps);
  }

  /**
   * Ends every SSE stream still being relayed with an OpenAI-style error event (code
   * `shutting_down`) and resolves once those responses finished writing, or after `waitMs`.
   * Used by a drain that timed out, so clients see a terminal event rather than a cut socket.
   */
  async endStreams(message: string, waitMs: number): Promise<void> {
    const ending = [...this.streams.entries()].map(
      ([res, end]) =>
        new Promise<void>((resolve) => {
          res.once('finish', resolve);
          res.once('close', resolve);
          end(message);
        }),
    );
    if (ending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(ending), new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }

  /**
   * Starts bookkeeping of any request: request id (accepted or generated, echoed), client-abort
   * cancellation, and one metrics sample plus one access-log line when the response closes, after
   * which `onClosed` runs.
   */
  begin(req: IncomingMessage, res: ServerResponse, onClosed?: () => void): RequestRecord {
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
    res.setHeader('x-request-id', requestId);
    const record: RequestRecord = {
      requestId,
      method: req.method ?? 'GET',
      path: pathOf(req.url),
      startedAt: this.deps.clock.now(),
      class: 'none',
      pool: 'none',
      upstream: 'none',
      key: undefined,
      model: undefined,
      attempts: 0,
      ttfbMs: undefined,
      streamError: undefined,
      clientAborted: false,
      cancellation: new Cancellation(),
    };
    res.once('close', () => {
      if (!res.writableFinished && record.streamError === undefined) {
        record.clientAborted = true;
        record.cancellation.abort(new Error('client disconnected'));
      }
      try {
        this.complete(record, res);
      } finally {
        onClosed?.();
      }
    });
    return record;
  }

  /** auth -> class. Answers 401/400 itself and returns undefined when the caller is refused. */
  identify(req: IncomingMessage, res: ServerResponse, record: RequestRecord): CallerContext | undefined {
    const auth = this.deps.auth.authenticate(req.headers.authorization);
    if (!auth.ok) {
      this.reply(res, { status: 401, body: openAIError(auth.message, 'authentication_error', 'invalid_api_key') });
      return undefined;
    }
    const { identity } = auth;
    const cls = identity ? classifyRequest(req.headers, identity.tier, identity.maxClass) : classifyRequest(req.headers, this.deps.config.anonymousTier, this.deps.config.anonymousMaxClass);
    if (!cls.ok) {
      this.reply(res, { status: 400, body: openAIError(cls.message, 'invalid_request_error', 'invalid_priority') });
      return undefined;
    }
    // asked above what the key may use: served at its highest class, and told so
    if (cls.lowered !== undefined) res.setHeader(PRIORITY_LOWERED_HEADER, `${cls.lowered}->${cls.priorityClass}`);
    record.class = cls.priorityClass;
    record.key = auth.identity?.name;
    this.deps.metrics.requestStarted(cls.priorityClass);
    const userHeader = req.headers['x-user-id'];
    const userId = typeof userHeader === 'string' && userHeader.length > 0 && userHeader.length <= 256 ? userHeader : undefined;
    return {
      requestId: record.requestId,
      startedAt: record.startedAt,
      key: auth.identity,
      priorityClass: cls.priorityClass,
      userKey: userId ?? auth.identity?.name,
      headers: req.headers,
      cancellation: record.cancellation,
    };
  }

  /** POST /v1/chat/completions, /v1/completions, /v1/embeddings. */
  async handleModelRequest(req: IncomingMessage, res: ServerResponse, path: ApiPath, record: RequestRecord): Promise<void> {
    const caller = this.identify(req, res, record);
    if (!caller) return;
    const ctx = await this.parse(req, res, path, caller);
    if (!ctx) return;
    record.model = ctx.model;
    const overload = this.deps.overload;
    if (!overload) return this.forward(ctx, res, record);
    // Overload control: deadline -> rate limit -> canary route -> cache (single-flight,
    // stale-if-error) -> admission (inside forward / fetchBuffered) -> dispatch.
    overload.applyDeadline(ctx);
    const limiting = overload.rateLimit(ctx);
    const limited = limiting && (await limiting);
    if (limited) return this.reply(res, limited);
    const canary = overload.routeCanary(ctx);
    if (canary.variant !== undefined) res.setHeader(canary.header, canary.variant);
    const key = overload.cacheKey(canary.ctx);
    if (key === undefined) return this.forward(canary.ctx, res, record);
    return this.forwardCached(overload, canary.ctx, key, res, record);
  }

  /**
   * Cacheable (deterministic, non-streaming) requests: a fresh cached answer; else one upstream
   * call for all identical concurrent requests (single-flight), its answer cached; when that call
   * is shed or fails, a stale answer if one is kept. `x-surgeguard-cache` says which happened.
   */
  private async forwardCached(overload: OverloadControl, ctx: RequestContext, key: string, res: ServerResponse, record: RequestRecord): Promise<void> {
    const hit = await overload.cached(key);
    if (hit) {
      record.pool = 'cache';
      record.upstream = hit.level;
      return this.replyBuffered(res, hit.response, 'hit');
    }
    const flight = await overload.coalesce(key, () => this.fetchBuffered(overload, ctx, record));
    const answer = flight.value;
    if (flight.role === 'follower') {
      record.pool = 'cache';
      record.upstream = 'coalesced';
    }
    if (answer.kind === 'upstream' && answer.response.status < 500) {
      if (flight.role !== 'follower' && answer.response.status < 300) {
        void overload.cache.set(key, answer.response);
        overload.correctUsage(ctx, answer.response.body);
      }
      return this.replyBuffered(res, answer.response, flight.role === 'follower' ? 'coalesced' : 'miss');
    }
    const stale = await overload.stale(key, answer.kind === 'local' && answer.shed ? 'shed' : 'upstream_error');
    if (stale) {
      record.pool = 'cache';
      record.upstream = 'stale';
      return this.replyBuffered(res, stale.response, 'stale', { age: String(Math.floor(stale.ageMs / 1000)) });
    }
    if (answer.kind === 'local') return this.reply(res, answer.reply);
    return this.replyBuffered(res, answer.response, 'miss');
  }

  /**
   * admission -> dispatch -> whole body in memory, for the cache path. It runs on behalf of every
   * coalesced caller, so it is bound to the request deadline, not to one client's connection.
   */
  private async fetchBuffered(overload: OverloadControl, ctx: RequestContext, record: RequestRecord): Promise<BufferedAnswer> {
    const shared: RequestContext = { ...ctx, cancellation: new Cancellation() };
    const sent = await this.sender.send(overload, shared, record);
    if (sent.kind === 'shed') return { kind: 'local', reply: shedReply(sent.shed), shed: true };
    const { result, release } = sent;
    if (!result.ok) return { kind: 'local', reply: dispatchFailureReply(result) ?? { status: 499, body: '' } };
    record.pool = result.pool.name;
    record.upstream = result.upstream.name;
    record.ttfbMs = result.ttfbMs;
    const chunks: Buffer[] = [];
    let outcome: BodyOutcome = 'complete';
    try {
      for await (const chunk of result.body) chunks.push(chunk as Buffer);
    } catch {
      outcome = 'error';
    }
    result.finish(outcome);
    release(outcome);
    if (outcome !== 'complete') return { kind: 'local', reply: { status: 502, body: openAIError('The upstream answer broke off.', 'server_error', 'upstream_error') } };
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(result.headers)) {
      if (value !== undefined && !DROPPED_RESPONSE_HEADERS.has(name) && name !== 'content-length') headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return { kind: 'upstream', response: { status: result.statusCode, headers, body: Buffer.concat(chunks) } };
  }

  /** Writes a complete answer (cache hit, coalesced, stale or freshly fetched) with its cache status. */
  private replyBuffered(res: ServerResponse, response: CachedResponse, cacheStatus: 'hit' | 'miss' | 'coalesced' | 'stale', extra: Record<string, string> = {}): void {
    this.reply(res, { status: response.status, headers: { ...response.headers, ...extra, [CACHE_HEADER]: cacheStatus }, body: response.body });
  }

  /** Body -> JSON -> model -> route, answering 400/404/408/413 itself. */
  private async parse(req: IncomingMessage, res: ServerResponse, path: ApiPath, caller: CallerContext): Promise<RequestContext | undefined> {
    const { server } = this.deps.config;
    const timeout = parseRequestTimeoutHeader(caller.headers);
    if (!timeout.ok) {
      this.reply(res, { status: 400, body: openAIError(timeout.message, 'invalid_request_error', 'invalid_request_timeout') });
      return undefined;
    }
    const read = await readRequestBody(req, server.maxBodyBytes, server.bodyTimeoutMs);
    if (!read.ok) {
      this.reply(res, bodyReadFailureReply(read));
      return undefined;
    }
    const parsed = parseJsonBody(read.body, server.maxJsonDepth);
    if (!parsed.ok) {
      this.reply(res, badRequest(parsed.problem));
      return undefined;
    }
    const body = parsed.json;
    const problem = requestBodyProblem(body, path);
    if (problem) {
      this.reply(res, badRequest(problem));
      return undefined;
    }
    const model = body.model as string;
    const route = this.deps.router.resolve(model, caller.key?.firstPoolOnly === true, caller.priorityClass);
    if (!route) {
      this.reply(res, { status: 404, body: openAIError(`The model ${model} does not exist.`, 'not_found_error', 'model_not_found', 'model') });
      return undefined;
    }
    // One literal with every field (no spread of `caller`): a spread followed by more properties
    // leaves V8 a dictionary-mode object, and every later stage reads this context.
    return {
      requestId: caller.requestId,
      startedAt: caller.startedAt,
      key: caller.key,
      priorityClass: caller.priorityClass,
      userKey: caller.userKey,
      headers: caller.headers,
      cancellation: caller.cancellation,
      endpoint: API_ENDPOINTS[path],
      path,
      deadline: caller.startedAt + server.requestTimeoutMs,
      body: read.body,
      json: body,
      model,
      stream: body.stream === true,
      route,
    };
  }

  /** route -> breaker -> send -> retry (dispatcher), then relay the response. */
  private async forward(ctx: RequestContext, res: ServerResponse, record: RequestRecord): Promise<void> {
    const sent = await this.sender.send(this.deps.overload, ctx, record);
    if (sent.kind === 'shed') {
      if (sent.shed.reason === 'aborted') res.destroy();
      else this.reply(res, shedReply(sent.shed));
      return;
    }
    const { result, release } = sent;
    if (!result.ok) {
      this.replyFailure(res, result);
      return;
    }
    record.pool = result.pool.name;
    record.upstream = result.upstream.name;
    record.ttfbMs = result.ttfbMs;
    this.deps.metrics.observeTtfb(record.pool, record.upstream, ctx.priorityClass, result.ttfbMs / 1000);
    const relaying = relayResponse(result, res, {
      streams: this.streams,
      onStreamError: (reason, counted) => {
        record.streamError = reason;
        if (counted) this.deps.metrics.streamErrors.inc({ pool: record.pool, upstream: record.upstream });
      },
    });
    const usage = this.deps.overload?.tapUsage(ctx, result.body);
    const outcome = await relaying;
    usage?.(outcome);
    result.finish(outcome);
    release(outcome);
  }

  /** Sends a LocalReply (JSON unless the body is a Buffer or string); also used by the other routes. */
  reply(res: ServerResponse, reply: LocalReply): void {
    sendReply(res, reply);
  }

  private replyFailure(res: ServerResponse, failure: DispatchFailure): void {
    const reply = dispatchFailureReply(failure);
    if (reply) this.reply(res, reply);
    else res.destroy();
  }

  /** One metrics sample and one access-log line per request, when its response closed. */
  private complete(record: RequestRecord, res: ServerResponse): void {
    const { metrics, clock, accessLog } = this.deps;
    const status = record.clientAborted ? 499 : res.statusCode;
    const seconds = (clock.now() - record.startedAt) / 1000;
    metrics.recordRequest(record.pool, record.upstream, record.class, String(status), seconds);
    if (record.class !== 'none') {
      metrics.requestEnded(record.class);
      if (record.clientAborted) metrics.clientAborts.inc({ class: record.class });
    }
    accessLog?.write({
      requestId: record.requestId,
      method: record.method,
      path: record.path,
      status,
      class: record.class,
      key: record.key,
      model: record.model,
      pool: record.pool,
      upstream: record.upstream,
      attempts: record.attempts,
      ttfbMs: record.ttfbMs,
      durationMs: Math.round(seconds * 1000),
      streamError: record.streamError,
    });
  }
}

/** The path of a request target, without its query string. */
function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
