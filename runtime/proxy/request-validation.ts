import { IncomingHttpHeaders } from 'node:http';
import { openAIError } from './errors';
import type { BodyReadResult } from './request-body';
import type { LocalReply } from './request-context';

/**
 * Checks of a request body the proxy itself relies on, done once at parse time so that no later
 * stage (cache key, model alias, job message, ...) meets input it cannot handle. Pure functions:
 * the pipeline and the jobs API turn a problem into a 400.
 */

/** A refused request body: what to tell the client (OpenAI-style `code` and `param`). */
export interface BodyProblem {
  readonly message: string;
  readonly code: string;
  readonly param: string | null;
}

/** The endpoints whose body shape the gateway checks. */
export type ValidatedEndpoint = '/v1/chat/completions' | '/v1/completions' | '/v1/embeddings';

/**
 * The deepest nesting of arrays/objects in a JSON text, or `Infinity` as soon as it passes `max`
 * (the scan stops there). Strings (with escapes) are skipped, so brackets inside them do not count.
 * Runs before JSON.parse: every later recursive walk of the body (JSON.stringify for a model alias
 * or a job message, the cache key) is then bounded by `max` frames.
 */
export function jsonNestingDepth(text: Buffer, max: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return Infinity;
      deepest = Math.max(deepest, depth);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

export type ParsedBody = { readonly ok: true; readonly json: Record<string, unknown> } | { readonly ok: false; readonly problem: BodyProblem };

/** Bytes -> a JSON object, refusing nesting deeper than `maxDepth` before parsing. */
export function parseJsonBody(bytes: Buffer, maxDepth: number): ParsedBody {
  if (jsonNestingDepth(bytes, maxDepth) > maxDepth) {
    return { ok: false, problem: { message: `Request body nests arrays/objects deeper than ${maxDepth} levels.`, code: 'json_too_deep', param: null } };
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return { ok: false, problem: { message: `Request body is not valid JSON: ${(err as Error).message}`, code: 'invalid_json', param: null } };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, problem: { message: 'Request body must be a JSON object.', code: 'invalid_json', param: null } };
  }
  return { ok: true, json: json as Record<string, unknown> };
}

const invalid = (param: string, message: string): BodyProblem => ({ message, code: 'invalid_value', param });

function isPositiveInteger(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1;
}

/** Upper bound of `n` (OpenAI's own limit). */
export const MAX_CHOICES = 128;

/**
 * The fields the gateway decides on or forwards as a contract: `model` (routing), `stream`
 * (relay, cache, jobs), `max_tokens`/`max_completion_tokens` and `n` (admission cost), and the
 * shape of `messages` / `prompt` / `input` (the request type). Other fields pass through to the
 * model server, which knows its own parameters. Returns the first problem, or undefined.
 */
export function requestBodyProblem(body: Readonly<Record<string, unknown>>, endpoint: ValidatedEndpoint): BodyProblem | undefined {
  if (typeof body.model !== 'string' || body.model.length === 0) {
    return { message: 'Missing required parameter: model.', code: 'missing_model', param: 'model' };
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') return invalid('stream', '`stream` must be a boolean.');
  // null passes like an absent field (typeof null is 'object')
  if (body.stream_options !== undefined && (typeof body.stream_options !== 'object' || Array.isArray(body.stream_options))) {
    return invalid('stream_options', '`stream_options` must be an object.');
  }
  for (const field of ['max_tokens', 'max_completion_tokens'] as const) {
    const v = body[field];
    if (v !== undefined && v !== null && !isPositiveInteger(v)) return invalid(field, `\`${field}\` must be a positive integer; got ${JSON.stringify(v)}.`);
  }
  if (body.n !== undefined && body.n !== null && !(isPositiveInteger(body.n) && (body.n as number) <= MAX_CHOICES)) {
    return invalid('n', `\`n\` must be an integer from 1 to ${MAX_CHOICES}; got ${JSON.stringify(body.n)}.`);
  }
  switch (endpoint) {
    case '/v1/chat/completions': {
      const messages = body.messages;
      if (!Array.isArray(messages) || messages.length === 0) return invalid('messages', '`messages` must be a non-empty array of message objects.');
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i] as unknown;
        if (typeof m !== 'object' || m === null || Array.isArray(m)) return invalid(`messages[${i}]`, `\`messages[${i}]\` must be an object.`);
        const role = (m as Record<string, unknown>).role;
        if (typeof role !== 'string' || role.length === 0) return invalid(`messages[${i}].role`, `\`messages[${i}].role\` must be a string.`);
      }
      return undefined;
    }
    case '/v1/completions': {
      const p = body.prompt;
      if (typeof p === 'string' || (Array.isArray(p) && p.length > 0)) return undefined;
      return invalid('prompt', '`prompt` must be a string or a non-empty array.');
    }
    case '/v1/embeddings': {
      const input = body.input;
      if (typeof input === 'string' || (Array.isArray(input) && input.length > 0)) return undefined;
      return invalid('input', '`input` must be a string or a non-empty array.');
    }
  }
}

export type RequestTimeoutHeader = { readonly ok: true; readonly ms: number | undefined } | { readonly ok: false; readonly message: string };

/** Longest `X-Request-Timeout` honoured (a longer one is capped, not refused). */
const MAX_REQUEST_TIMEOUT_MS = 24 * 3_600_000;

/**
 * `X-Request-Timeout`: seconds (`10`, `2.5`) or milliseconds with a unit (`2500ms`, `3s`). Absent
 * is fine; anything else that is not a positive duration (`abc`, `-1`, `0`) is refused like an
 * unknown `X-Priority`, rather than silently running with the default deadline.
 */
export function parseRequestTimeoutHeader(headers: IncomingHttpHeaders): RequestTimeoutHeader {
  const raw = headers['x-request-timeout'];
  if (raw === undefined) return { ok: true, ms: undefined };
  const value = (Array.isArray(raw) ? raw[0] : raw).trim().toLowerCase();
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value);
  const ms = m ? (m[2] === 'ms' ? Number(m[1]) : Number(m[1]) * 1000) : NaN;
  if (!(ms >= 1)) {
    return { ok: false, message: `X-Request-Timeout must be a positive duration in seconds (\`10\`, \`2.5\`) or milliseconds (\`2500ms\`); got "${value}".` };
  }
  return { ok: true, ms: Math.min(ms, MAX_REQUEST_TIMEOUT_MS) };
}

/** A 400 for a refused body, OpenAI-style. */
export function badRequest(problem: BodyProblem): LocalReply {
  return { status: 400, body: openAIError(problem.message, 'invalid_request_error', problem.code, problem.param) };
}

/**
 * The answer to a body that could not be read: the same status and code on every path
 * (413 `request_too_large`, 408 `request_timeout`, 400 `invalid_body`), and the connection closed
 * since the rest of the body was not read.
 */
export function bodyReadFailureReply(read: Extract<BodyReadResult, { ok: false }>): LocalReply {
  const code = read.status === 413 ? 'request_too_large' : read.status === 408 ? 'request_timeout' : 'invalid_body';
  return { status: read.status, headers: { connection: 'close' }, body: openAIError(read.message, 'invalid_request_error', code) };
}
