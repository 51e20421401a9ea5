import { request } from 'undici';

/**
 * A client of the proxy's OpenAI-style API with a Bearer key, for the tests that drive the jobs
 * API through real proxies (test/runtime/proxy/async-api, multi-region).
 */

/** Two API keys the tests configure (as `alice` and `bob`; their SHA-256 goes in `auth.keys`). */
export const ALICE = 'sk-alice-0123456789';
export const BOB = 'sk-bob-0123456789';

export interface ApiReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The JSON answer, parsed (undefined for an empty body). */
  body: any;
}

/** One call with `key` as the Bearer token; a body is sent as JSON. */
export async function call(method: 'GET' | 'POST' | 'DELETE', url: string, key: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiReply> {
  const res = await request(url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** A small chat request for the simulator's model. */
export const chatBody = (content = 'hello') => ({ model: 'sim-model', messages: [{ role: 'user', content }], max_tokens: 4 });
