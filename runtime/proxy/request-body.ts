import { IncomingMessage } from 'node:http';

export type BodyReadResult =
  | { readonly ok: true; readonly body: Buffer }
  | { readonly ok: false; readonly status: 408 | 413 | 400; readonly message: string };

/**
 * Reads a request body up to `maxBytes` within `timeoutMs`. A declared Content-Length above the
 * limit is refused before reading; an actual body above it is refused as soon as it crosses it.
 * A client that sends too slowly gets 408.
 */
export function readRequestBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<BodyReadResult> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.resolve({ ok: false, status: 413, message: `Request body is ${declared} bytes; the limit is ${maxBytes}.` });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: BodyReadResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
      if (!result.ok) req.resume();
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) finish({ ok: false, status: 413, message: `Request body exceeds the limit of ${maxBytes} bytes.` });
      else chunks.push(chunk);
    };
    const onEnd = () => finish({ ok: true, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) });
    const onError = () => finish({ ok: false, status: 400, message: 'Request body could not be read.' });
    const timer = setTimeout(() => finish({ ok: false, status: 408, message: `Request body not received within ${timeoutMs} ms.` }), timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}
