import type { IncomingHttpHeaders } from 'node:http';
import { parseRequestTimeoutHeader } from '../request-validation';

/** `X-Request-Timeout` in ms, when sent and valid (the pipeline refuses an invalid one with 400 before). */
export function parseRequestTimeout(headers: IncomingHttpHeaders): number | undefined {
  const parsed = parseRequestTimeoutHeader(headers);
  return parsed.ok ? parsed.ms : undefined;
}
