import { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { Pool } from 'undici';
import { AbortSource } from '../cancellation';
import { TimeoutsConfig } from '../config/upstream';
import { overridableLookup } from './resolver';

/** Why an attempt produced no response headers. */
export type AttemptErrorKind =
  /** Could not connect (refused, DNS, connect timeout). Safe to retry anywhere. */
  | 'connect'
  /** Connected, but no response headers within the time-to-first-byte timeout. */
  | 'timeout'
  /** The connection broke before the response headers. */
  | 'reset'
  /** We aborted it (client gone or request deadline). Not the upstream's fault. */
  | 'aborted'
  /** The HTTP client refused the request before sending anything (invalid argument). Not the upstream's fault. */
  | 'request';

export class AttemptError extends Error {
  constructor(
    readonly kind: AttemptErrorKind,
    readonly cause: unknown,
  ) {
    super(`upstream ${kind}: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'AttemptError';
  }
}

/** Errors raised while the request is being built, before anything is written to a socket. */
const REQUEST_CODES = new Set(['UND_ERR_INVALID_ARG', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN', 'UND_ERR_NOT_SUPPORTED']);

const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** Maps an error from undici (or the socket under it) to an attempt error kind. */
export function classifyAttemptError(err: unknown, aborted: boolean): AttemptErrorKind {
  if (aborted) return 'aborted';
  const code = (err as { code?: string })?.code ?? '';
  if (CONNECT_CODES.has(code)) return 'connect';
  if (REQUEST_CODES.has(code)) return 'request';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'timeout';
  if (code === 'UND_ERR_ABORTED' || (err as Error)?.name === 'AbortError') return 'aborted';
  return 'reset';
}

/** One upstream response whose body has not been read yet. */
export interface UpstreamReply {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable & { dump?(opts?: { limit: number }): Promise<void> };
}

export interface AttemptRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer | string;
  readonly signal?: AbortSource;
}

/**
 * The HTTP client of one upstream: an undici Pool of keep-alive connections with the pool's
 * connect / first-byte / idle timeouts. It never retries on its own — retries are decided by the
 * dispatcher, the only retry layer.
 *
 * The idle timeout is undici's body timeout: it runs only while the reader is waiting for data
 * (a paused body — a slow client applying backpressure — does not count) and has about one
 * second of resolution. (A watchdog wrapped around each body cost ~100 us of CPU per request.)
 */
export class UpstreamHttpClient {
  private readonly pool: Pool;

  /**
   * @param servername TLS server name when `origin` is an address found by discovery (the name
   *   the member was found by, which its certificate carries)
   */
  constructor(origin: string, timeouts: TimeoutsConfig, connections: number, servername?: string, env: NodeJS.ProcessEnv = process.env) {
    this.pool = new Pool(origin, {
      connections,
      pipelining: 1,
      connect: { timeout: timeouts.connectMs, lookup: overridableLookup(env), ...(servername ? { servername } : {}) },
      headersTimeout: timeouts.ttfbMs,
      bodyTimeout: timeouts.idleMs,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
    });
  }

  async send(req: AttemptRequest): Promise<UpstreamReply> {
    try {
      const res = await this.pool.request({
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
      });
      return { statusCode: res.statusCode, headers: res.headers as IncomingHttpHeaders, body: res.body };
    } catch (err) {
      throw new AttemptError(classifyAttemptError(err, req.signal?.aborted ?? false), err);
    }
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => this.pool.destroy());
  }

  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}
