import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { BodyOutcome, UpstreamResponse } from '../common/upstream/dispatcher';
import { sseErrorEvent } from './errors';

/** Response headers never copied from an upstream (hop-by-hop, or set by the proxy). */
export const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-authenticate', 'proxy-connection', 'trailer', 'upgrade', 'x-request-id', 'date']);

/** What the relay reports to the request it serves. */
export interface RelayHooks {
  /**
   * The response failed after its first byte: why (`deadline`, `shutdown` or the error code), and
   * whether it counts as a stream error (a shutdown does not: the proxy ended it on purpose).
   */
  onStreamError(reason: string, counted: boolean): void;
  /** Open SSE streams, each with the function that ends it with a `shutting_down` event. */
  readonly streams: Map<ServerResponse, (message: string) => void>;
}

/**
 * Streams the upstream body to the client unbuffered: a write that fills the socket buffer
 * pauses the upstream read until 'drain' (backpressure); a client disconnect destroys the
 * upstream body, which aborts the upstream request and frees its slot. A failure after the
 * headers ends an SSE stream with an error event, and cuts other responses short. An SSE stream
 * is listed in `hooks.streams` while it runs, with the function that ends it on shutdown.
 */
export function relayResponse(upstream: UpstreamResponse, res: ServerResponse, hooks: RelayHooks): Promise<BodyOutcome> {
  const headers: OutgoingHttpHeaders = {};
  const received = upstream.headers;
  for (const name in received) {
    const value = received[name];
    if (value !== undefined && !DROPPED_RESPONSE_HEADERS.has(name)) headers[name] = value;
  }
  res.writeHead(upstream.statusCode, headers);
  const isSse = String(upstream.headers['content-type'] ?? '').startsWith('text/event-stream');
  if (isSse) res.flushHeaders();
  const body = upstream.body;
  return new Promise<BodyOutcome>((resolve) => {
    let settled = false;
    const settle = (outcome: BodyOutcome) => {
      if (settled) return;
      settled = true;
      if (isSse) hooks.streams.delete(res);
      body.off('data', onData);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(outcome);
    };
    // A non-streaming body is written one chunk behind, so the last chunk goes out with the
    // end of the response in one write (most answers are a single chunk: one syscall, not two).
    let held: Buffer | undefined;
    // Stream events that arrive in the same upstream read (one tick) leave in one write: the
    // response is corked at the first and uncorked on the next tick, so nothing waits longer
    // than the current tick, and a burst of small SSE events costs one syscall, not one each.
    let corked = false;
    const uncork = () => {
      corked = false;
      res.uncork();
    };
    const onData = (chunk: Buffer) => {
      if (!isSse) {
        const previous = held;
        held = chunk;
        if (previous === undefined) return;
        chunk = previous;
      } else if (!corked) {
        corked = true;
        res.cork();
        process.nextTick(uncork);
      }
      if (!res.write(chunk)) body.pause();
    };
    const onDrain = () => body.resume();
    const onClose = () => {
      if (settled) return;
      body.destroy();
      settle('aborted');
    };
    body.on('data', onData);
    res.on('drain', onDrain);
    res.on('close', onClose);
    if (isSse) {
      hooks.streams.set(res, (message) => {
        if (settled) return;
        hooks.onStreamError('shutdown', false);
        body.destroy();
        res.end(sseErrorEvent(message, 'shutting_down'));
        settle('aborted');
      });
    }
    body.once('end', () => {
      if (held !== undefined) res.end(held);
      else res.end();
      settle('complete');
    });
    body.once('error', (err: Error) => {
      if (res.destroyed || settled) return settle('aborted');
      const deadline = upstream.cancellation.aborted;
      hooks.onStreamError(deadline ? 'deadline' : (err as { code?: string }).code ?? err.name, true);
      if (isSse) {
        res.end(sseErrorEvent(deadline ? 'The request deadline passed before the stream finished.' : 'The upstream stream failed before it finished.', deadline ? 'timeout' : 'upstream_error'));
      } else {
        res.destroy();
      }
      settle(deadline ? 'aborted' : 'error');
    });
  });
}
