import { IncomingHttpHeaders } from 'node:http';
import { Cancellation } from '../common/cancellation';
import { PriorityClass } from '../../contract/priority';
import { ApiKeyIdentity } from './auth';
import { ResolvedRoute } from './model-router';

/** The OpenAI-compatible endpoints the proxy forwards. */
export const API_ENDPOINTS = {
  '/v1/chat/completions': 'chat.completions',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
} as const;

export type ApiPath = keyof typeof API_ENDPOINTS;
export type ApiEndpoint = (typeof API_ENDPOINTS)[ApiPath];

/** What every route knows once the caller is identified: auth and class are settled. */
export interface CallerContext {
  readonly requestId: string;
  /** Clock time the request arrived (ms). */
  readonly startedAt: number;
  /** The API key, or undefined with `auth: none`. */
  readonly key: ApiKeyIdentity | undefined;
  readonly priorityClass: PriorityClass;
  /** Consistent-hash and per-user key: X-User-Id, else the key name, else undefined. */
  readonly userKey: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** Aborted as soon as the client disconnects (or, once dispatched, the deadline passes). */
  readonly cancellation: Cancellation;
}

/**
 * A model request after parsing: everything the later stages (rate limit, cache, admission,
 * routing) decide on. Stages may shorten `deadline`; none may lengthen it.
 */
export interface RequestContext extends CallerContext {
  readonly endpoint: ApiEndpoint;
  readonly path: ApiPath;
  /** Absolute clock time (ms) after which the request is abandoned, streaming included. */
  deadline: number;
  /** The raw request body as received. */
  readonly body: Buffer;
  /** The parsed body (a JSON object). */
  readonly json: Readonly<Record<string, unknown>>;
  readonly model: string;
  /** `stream: true` was requested (an SSE response is expected). */
  readonly stream: boolean;
  readonly route: ResolvedRoute;
}

/**
 * A complete answer produced by the proxy itself (an error, or an answer from a stage such as
 * the cache). Returned by a stage to end the request early.
 */
export interface LocalReply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Serialised as JSON unless a Buffer/string. */
  readonly body: unknown;
  /** Metric label overrides (e.g. the cache marks `upstream: cache`). */
  readonly pool?: string;
  readonly upstream?: string;
}
