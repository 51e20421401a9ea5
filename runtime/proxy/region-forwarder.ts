import { request as httpRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { overridableLookup } from '../common/upstream/resolver';
import { FORWARDED_BY_HEADER } from './regions';

/**
 * Sends a job request on to the job's home region (its regional endpoint) with the caller's own
 * credentials, so the home region authenticates the caller and checks ownership itself; nothing
 * is trusted from the forwarding region but the request. One bounded attempt, no retry: the
 * client's own retry (after the Retry-After of a 503) is the retry.
 */

/** Request headers that travel with a forwarded job request (credentials and job semantics). */
const FORWARDED_REQUEST_HEADERS = ['authorization', 'x-api-key', 'content-type', 'idempotency-key', 'prefer', 'x-callback-url', 'x-priority', 'x-realtime', 'x-request-id'];
/** Response headers relayed back to the client. */
export const RELAYED_RESPONSE_HEADERS = ['content-type', 'location', 'retry-after', 'idempotent-replayed'];

export interface ForwardedReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export type ForwardResult = { readonly ok: true; readonly reply: ForwardedReply } | { readonly ok: false; readonly reason: string };

export interface ForwardRequest {
  /** Base URL of the home region (https://<region>.<domain>). */
  readonly baseUrl: string;
  readonly method: 'GET' | 'DELETE' | 'POST';
  /** Path and query as the client sent them. */
  readonly path: string;
  readonly incoming: IncomingMessage;
  readonly body?: Buffer;
  /** This region's name, sent in the loop-guard header. */
  readonly fromRegion: string;
  readonly timeoutMs: number;
  /** Largest answer accepted (a job result). */
  readonly maxResponseBytes: number;
  /** Environment of the hosts override file (SURGEGUARD_HOSTS_FILE), as for upstream members. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

export function forwardJobRequest(f: ForwardRequest): Promise<ForwardResult> {
  return new Promise((resolve) => {
    const url = new URL(f.path, f.baseUrl);
    const headers: Record<string, string> = { [FORWARDED_BY_HEADER]: f.fromRegion };
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const v = f.incoming.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    if (f.body) headers['content-length'] = String(f.body.length);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const done = (r: ForwardResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = send(url, { method: f.method, headers, lookup: overridableLookup(f.env ?? process.env) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > f.maxResponseBytes) {
          req.destroy();
          done({ ok: false, reason: `answer larger than ${f.maxResponseBytes} bytes` });
          return;
        }
        chunks.push(c);
      });
      res.on('error', (err) => done({ ok: false, reason: err.message }));
      res.on('end', () => {
        const relayed: Record<string, string> = {};
        for (const name of RELAYED_RESPONSE_HEADERS) {
          const v = res.headers[name];
          if (typeof v === 'string') relayed[name] = v;
        }
        done({ ok: true, reply: { status: res.statusCode ?? 502, headers: relayed, body: Buffer.concat(chunks) } });
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, reason: `no answer within ${f.timeoutMs} ms` });
    }, f.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: err.code ?? err.message }));
    req.end(f.body);
  });
}

/**
 * Whether a home region's answer means the region (not the job) is unavailable: its load balancer
 * had no healthy proxy (502/504), or it refused with a 503. Other statuses are the home region's
 * answer about the job and are relayed as they are.
 */
export function homeRegionUnavailable(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}
