import { createHash } from 'node:crypto';

/**
 * Body fields that do not change what the model answers. Everything else (model, messages,
 * temperature, top_p, max_tokens, stop, seed, tools, response_format, logit_bias, n, any
 * server-specific sampling parameter, ...) is part of the key: an unknown parameter is
 * assumed to matter.
 */
const NOT_OUTPUT_AFFECTING = new Set(['stream', 'stream_options', 'user', 'metadata', 'store', 'service_tier', 'safety_identifier']);

export type Cacheability =
  | { readonly cacheable: true; readonly reason: 'deterministic' | 'opt_in' }
  | { readonly cacheable: false; readonly reason: 'opt_out' | 'streaming' | 'sampling' | 'not_json' };

/**
 * Whether an answer to this request may be cached and shared: the client opted in with the
 * header, or the request is deterministic (temperature 0 — then a seed does not matter).
 * A request without temperature samples at the default of 1; a seed alone is not trusted
 * to make sampling reproducible across upstreams. Streaming requests are never cached.
 */
export function cacheability(body: unknown, optInHeaderValue: string | undefined): Cacheability {
  const header = optInHeaderValue?.trim().toLowerCase();
  if (header === 'off' || header === 'no' || header === 'false') return { cacheable: false, reason: 'opt_out' };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { cacheable: false, reason: 'not_json' };
  const b = body as Record<string, unknown>;
  if (b.stream === true) return { cacheable: false, reason: 'streaming' };
  if (header === 'on' || header === 'yes' || header === 'true' || header === 'force') return { cacheable: true, reason: 'opt_in' };
  if (b.temperature === 0) return { cacheable: true, reason: 'deterministic' };
  return { cacheable: false, reason: 'sampling' };
}

/** JSON with object keys sorted and null/undefined members dropped, so equal requests hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.keys(value as object)
      .filter((k) => (value as Record<string, unknown>)[k] !== null && (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface KeyInput {
  /** API path, e.g. `/v1/chat/completions` (different endpoints answer differently). */
  readonly path: string;
  readonly body: Record<string, unknown>;
  /** Who asked; omitted from the key when answers are shared across keys. */
  readonly apiKey?: string;
  readonly shareAcrossKeys: boolean;
}

/** Hash of the normalised request: scope, path and every output-affecting body field. */
export function requestCacheKey(input: KeyInput): string {
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input.body)) if (!NOT_OUTPUT_AFFECTING.has(k)) params[k] = v;
  const scope = input.shareAcrossKeys ? '*' : createHash('sha256').update(input.apiKey ?? '').digest('hex');
  return createHash('sha256')
    .update(`v1\n${scope}\n${input.path}\n${canonicalJson(params)}`)
    .digest('base64url');
}
