import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import pino, { Logger } from 'pino';
import { Clock, RandomSource, systemClock, withTimers } from '../common/clock';
import { createLogger } from '../common/config/logging';
import { ActiveHealthChecker } from '../common/upstream/health-checker';
import { UpstreamDispatcher } from '../common/upstream/dispatcher';
import { MemberDiscovery } from '../common/upstream/discovery';
import { systemResolver, type Resolver } from '../common/upstream/resolver';
import { UpstreamPool } from '../common/upstream/upstream-pool';
import { PROXY_CONTRACT } from '../../contract/service';
import { KeyAuthenticator } from './auth';
import { ProxyConfig } from './config';
import { openAIError } from './errors';
import { ProxyMetrics } from './metrics';
import { AccessLog, AccessLogSink } from './access-log';
import { ModelRouter } from './model-router';
import { API_ENDPOINTS, ApiPath } from './request-context';
import { RequestPipeline, RequestRecord } from './request-pipeline';
import { createRedisClient } from '../common/redis';
import { OverloadControl } from './overload/control';
import { JobsApi, prefersAsync } from './jobs-api';
import { readinessPools } from './regions';

export interface ProxyDeps {
  readonly clock?: Clock;
  readonly random?: RandomSource;
  readonly env?: NodeJS.ProcessEnv;
  readonly logger?: Logger;
  /** Waits `ms` unless aborted; tests shorten backoffs with it. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Resolves the names of `discover` members. @default systemResolver() */
  readonly resolver?: Resolver;
}

/** A running (or ready to run) proxy and the parts tests and operators look at. */
export interface Proxy {
  readonly server: Server;
  readonly config: ProxyConfig;
  readonly pools: ReadonlyMap<string, UpstreamPool>;
  readonly dispatcher: UpstreamDispatcher;
  readonly metrics: ProxyMetrics;
  readonly pipeline: RequestPipeline;
  readonly logger: Logger;
  /** One line per finished request (`logging.accessLog`), batched; `flush()` writes what is pending. */
  readonly accessLog: AccessLog | undefined;
  /** Overload control: rate limiter, cache, admission per pool, canary. */
  readonly overload: OverloadControl;
  /** The asynchronous job API, when `jobs` is configured. */
  readonly jobs: JobsApi | undefined;
  /** Listens on config.server host/port; resolves with the bound address. */
  listen(): Promise<{ port: number; url: string }>;
  /** Ready: not draining and at least one upstream passes health checks. */
  isReady(): boolean;
  /**
   * Graceful drain: readiness turns false, the listener closes, idle keep-alive connections are
   * closed, in-flight requests may finish until drainTimeoutMs, then everything is closed.
   * Resolves true when every request finished in time.
   */
  drain(): Promise<boolean>;
  /** Requests being handled now. */
  inFlight(): number;
}

/** Builds the proxy from a validated config: pools, dispatcher, health checks, pipeline, HTTP server. */
export function createProxy(config: ProxyConfig, deps: ProxyDeps = {}): Proxy {
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  // Written asynchronously (no syscall on the event loop per line); access-log lines, the only
  // frequent ones, arrive here in batches from AccessLog.
  const logDestination = deps.logger ? undefined : pino.destination({ dest: 1, sync: false });
  const logger = deps.logger ?? createLogger(config.logging, 'surgeguard-proxy', logDestination);
  const accessLog =
    config.logging.accessLog && logger.isLevelEnabled('info')
      ? new AccessLog(logDestination ?? (logger as unknown as Record<symbol, AccessLogSink>)[pino.symbols.streamSym], { name: 'surgeguard-proxy' })
      : undefined;
  const metrics = new ProxyMetrics();
  const pools = new Map<string, UpstreamPool>();
  for (const [name, poolConfig] of Object.entries(config.pools)) {
    pools.set(name, new UpstreamPool(name, poolConfig, { clock, random, env: deps.env ?? process.env, events: metrics }));
  }
  metrics.watchPools([...pools.values()]);
  metrics.clientConnectionsMax.set(config.server.maxConnections);
  const dispatcher = new UpstreamDispatcher(config.retry, { clock, random, events: metrics, sleep: deps.sleep });
  const health = new ActiveHealthChecker([...pools.values()], {
    onHealthChange: (pool, upstream, healthy) => {
      metrics.onHealthChange(pool, upstream, healthy);
      logger.warn({ pool, upstream, healthy }, healthy ? 'upstream healthy again' : 'upstream unhealthy');
    },
  });
  const discovery = new MemberDiscovery([...pools.values()], {
    resolver: deps.resolver ?? systemResolver(deps.env ?? process.env),
    onChange: (pool, host, { added, removed }) =>
      logger.info({ pool, host, added: added.map((u) => u.name), removed: removed.map((u) => u.name) }, 'pool members changed'),
    onError: (pool, host, err) => logger.warn({ pool, host, err: (err as Error).message }, 'member discovery failed'),
  });
  const router = new ModelRouter(config.routes, pools);
  const overloadRedis = config.redis ? createRedisClient(config.redis, deps.env ?? process.env, 'hot-path') : undefined;
  const overload = new OverloadControl({ config, pools, registry: metrics.registry, logger, redis: overloadRedis, clock: withTimers(clock) });
  const pipeline = new RequestPipeline({ config, clock, auth: new KeyAuthenticator(config.auth, deps.env ?? process.env), router, dispatcher, metrics, accessLog, overload });
  const jobs =
    config.jobs && config.redis
      ? new JobsApi({ config: config.jobs, server: config.server, redis: config.redis, pipeline, router, logger, env: deps.env ?? process.env, ...(config.regions ? { regions: config.regions } : {}) })
      : undefined;

  let draining = false;
  let active = 0;
  const idleWaiters: (() => void)[] = [];
  // Ready while one of this region's own pools has a healthy member: a region whose model servers
  // are gone leaves the global load balancers even if it could spill; a saturated one stays in.
  const localPools = readinessPools(config.pools, config.regions).map((n) => pools.get(n)!);
  const isReady = () => !draining && localPools.some((p) => p.hasHealthyMember());

  const server = createServer(
    {
      headersTimeout: config.server.headersTimeoutMs,
      requestTimeout: config.server.headersTimeoutMs + config.server.bodyTimeoutMs,
      keepAliveTimeout: config.server.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, config.server.headersTimeoutMs),
      noDelay: true,
    },
    (req, res) => {
      const socket = req.socket;
      const firstRequest = firstRequestTimers.get(socket);
      if (firstRequest !== undefined) {
        clearTimeout(firstRequest);
        firstRequestTimers.delete(socket);
      }
      if (reserved.has(socket) && !HEALTH_PATHS.has(pathOnly(req.url))) {
        // a connection above maxConnections, accepted for health probes only
        res.shouldKeepAlive = false;
        pipeline.reply(res, {
          status: 503,
          headers: { connection: 'close', 'retry-after': '1' },
          body: openAIError('The proxy is at its connection limit; retry after 1 s.', 'service_unavailable', 'too_many_connections'),
        });
        return;
      }
      active++;
      if (draining) res.setHeader('connection', 'close');
      const record = pipeline.begin(req, res, onRequestClosed);
      handle(req, res, record).catch((err: Error) => {
        logger.error({ requestId: record.requestId, err: { message: err.message, stack: err.stack } }, 'request handler failed');
        if (!res.headersSent) pipeline.reply(res, { status: 500, body: openAIError('Internal proxy error.', 'server_error', 'internal_error') });
        else res.destroy();
      });
    },
  );
  function onRequestClosed(): void {
    active--;
    if (active === 0) for (const w of idleWaiters.splice(0)) w();
  }
  // Connections above maxConnections (up to healthReserveConnections more) are accepted but may
  // only ask for the health and metrics paths: probes are answered while the API is full.
  // Every new connection must send a complete request within firstRequestTimeoutMs (node's
  // headersTimeout starts only with the first byte), so idle sockets cannot fill the listener.
  server.maxConnections = config.server.maxConnections + config.server.healthReserveConnections;
  const reserved = new WeakSet<Socket>();
  const firstRequestTimers = new WeakMap<Socket, NodeJS.Timeout>();
  let connections = 0;
  server.on('connection', (socket: Socket) => {
    connections++;
    metrics.clientConnections.set(connections);
    if (connections > config.server.maxConnections) reserved.add(socket);
    const timer = setTimeout(() => socket.destroy(), config.server.firstRequestTimeoutMs);
    timer.unref();
    firstRequestTimers.set(socket, timer);
    socket.once('close', () => {
      clearTimeout(timer);
      connections--;
      metrics.clientConnections.set(connections);
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(parserErrorResponse(err.code));
  });

  async function handle(req: IncomingMessage, res: ServerResponse, record: RequestRecord): Promise<void> {
    const path = record.path;
    const method = req.method ?? 'GET';
    if (jobs?.handles(path)) return jobs.handle(req, res, record);
    if (path in API_ENDPOINTS) {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      if (jobs && prefersAsync(req)) return jobs.submitFromModelRequest(req, res, path as ApiPath, record);
      return pipeline.handleModelRequest(req, res, path as ApiPath, record);
    }
    switch (path) {
      case PROXY_CONTRACT.healthPath:
        if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, 'GET');
        return pipeline.reply(res, { status: 200, body: { status: 'ok' } });
      case PROXY_CONTRACT.readyPath: {
        if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, 'GET');
        const ready = isReady();
        metrics.ready.set(ready ? 1 : 0);
        return pipeline.reply(res, { status: ready ? 200 : 503, body: { status: ready ? 'ready' : draining ? 'draining' : 'no healthy upstream' } });
      }
      case PROXY_CONTRACT.metricsPath: {
        if (method !== 'GET') return methodNotAllowed(res, 'GET');
        metrics.ready.set(isReady() ? 1 : 0);
        const text = await metrics.registry.metrics();
        return pipeline.reply(res, { status: 200, headers: { 'content-type': metrics.registry.contentType }, body: text });
      }
      case '/v1/models': {
        if (method !== 'GET') return methodNotAllowed(res, 'GET');
        if (!pipeline.identify(req, res, record)) return undefined;
        return pipeline.reply(res, { status: 200, body: { object: 'list', data: router.models().map(modelObject) } });
      }
      default:
        if (path.startsWith('/v1/models/')) {
          if (method !== 'GET') return methodNotAllowed(res, 'GET');
          if (!pipeline.identify(req, res, record)) return undefined;
          let id: string;
          try {
            id = decodeURIComponent(path.slice('/v1/models/'.length));
          } catch {
            id = '';
          }
          if (!router.models().includes(id)) {
            return pipeline.reply(res, { status: 404, body: openAIError(`The model ${id} does not exist.`, 'not_found_error', 'model_not_found', 'model') });
          }
          return pipeline.reply(res, { status: 200, body: modelObject(id) });
        }
        return pipeline.reply(res, { status: 404, body: openAIError(`Unknown path ${path}.`, 'not_found_error', 'unknown_path') });
    }
  }

  function methodNotAllowed(res: ServerResponse, allow: string): void {
    pipeline.reply(res, { status: 405, headers: { allow }, body: openAIError(`Method not allowed; use ${allow}.`, 'invalid_request_error', 'method_not_allowed') });
  }

  return {
    server,
    config,
    pools,
    dispatcher,
    metrics,
    pipeline,
    logger,
    accessLog,
    overload,
    jobs,
    isReady,
    inFlight: () => active,
    async listen() {
      // members found by name are known before the first request is accepted
      await discovery.start();
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.server.port, config.server.host, () => {
          server.off('error', reject);
          health.start();
          overload.start();
          jobs?.start();
          const { port } = server.address() as AddressInfo;
          const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
          logger.info({ port, host: config.server.host }, 'proxy listening');
          resolve({ port, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}` });
        });
      });
    },
    async drain() {
      if (draining) return active === 0;
      draining = true;
      metrics.ready.set(0);
      logger.info({ inFlight: active }, 'draining');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const finished =
        active === 0 ||
        (await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), config.server.drainTimeoutMs);
          idleWaiters.push(() => {
            clearTimeout(timer);
            resolve(true);
          });
        }));
      if (!finished) {
        // streams still running end with an SSE error event the SDKs raise, not a bare cut
        await pipeline.endStreams('The proxy is shutting down (drain timeout); retry the request.', 1_000);
      }
      discovery.stop();
      health.stop();
      overload.stop();
      overloadRedis?.disconnect();
      server.closeAllConnections();
      await closed;
      await Promise.all([...pools.values()].map((p) => p.close()));
      await jobs?.close();
      accessLog?.close();
      logger.info({ finished }, finished ? 'drained' : 'drain timeout: remaining requests cut');
      return finished;
    },
  };
}

/** Paths a connection above maxConnections may ask for. */
const HEALTH_PATHS = new Set<string>([PROXY_CONTRACT.healthPath, PROXY_CONTRACT.readyPath, PROXY_CONTRACT.metricsPath]);

function pathOnly(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** A model as OpenAI's `GET /v1/models` lists it. */
function modelObject(id: string): Record<string, unknown> {
  return { id, object: 'model', created: 0, owned_by: 'surgeguard' };
}

/**
 * The answer to a request node's HTTP parser refused (bad syntax 400, headers too slow 408, too
 * large 431): an OpenAI-style error body like every other refusal, then the connection closes.
 */
export function parserErrorResponse(code: string | undefined): string {
  const status = code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const [text, message, errorCode] =
    status === 408
      ? ['Request Timeout', 'The request headers were not received in time.', 'request_timeout']
      : status === 431
        ? ['Request Header Fields Too Large', 'The request headers are too large.', 'headers_too_large']
        : ['Bad Request', 'The request is not valid HTTP/1.1.', 'bad_request'];
  const body = JSON.stringify(openAIError(message, 'invalid_request_error', errorCode));
  return `HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
