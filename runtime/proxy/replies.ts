import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { DispatchFailure } from '../common/upstream/dispatcher';
import { openAIError } from './errors';
import type { LocalReply } from './request-context';

/** The answers the proxy builds itself, and how a LocalReply is written. */

/** Sends a LocalReply (JSON unless the body is a Buffer or string); nothing once headers went out. */
export function sendReply(res: ServerResponse, reply: LocalReply): void {
  if (res.headersSent || res.destroyed) return;
  const payload = Buffer.isBuffer(reply.body) || typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  const headers: OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...reply.headers };
  res.writeHead(reply.status, headers);
  res.end(payload);
}

/** The answer to a dispatch failure; undefined when the caller aborted (nobody to answer). */
export function dispatchFailureReply(failure: DispatchFailure): LocalReply | undefined {
  if (failure.reason === 'aborted') return undefined;
  if (failure.reason === 'request-error') {
    return { status: 400, body: openAIError(`The request could not be sent upstream: ${failure.message ?? 'invalid request'}.`, 'invalid_request_error', 'invalid_body') };
  }
  if (failure.reason === 'deadline') {
    return { status: 504, body: openAIError('The request deadline passed before an upstream answered.', 'timeout', 'deadline_exceeded') };
  }
  const retryAfterS = Math.max(1, Math.ceil((failure.retryAfterMs ?? 1000) / 1000));
  const message =
    failure.reason === 'no-upstream'
      ? `No upstream is available for this model; retry after ${retryAfterS} s.`
      : `Upstreams are busy or failing; retry after ${retryAfterS} s.`;
  return {
    status: failure.reason === 'no-upstream' ? 503 : 502,
    headers: { 'retry-after': String(retryAfterS) },
    body: openAIError(message, 'service_unavailable', failure.reason === 'no-upstream' ? 'no_upstream_available' : 'upstream_unavailable'),
  };
}
