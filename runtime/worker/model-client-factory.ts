import type { Logger } from 'pino';
import { resolveSecret } from '../common/config/secrets';
import type { WorkerConfig } from './config';
import { HttpModelClient, ModelClient } from './model-client';

/** The model client a worker config describes. */
export function createModelClient(config: WorkerConfig, logger: Logger): ModelClient {
  const upstream = config.upstream.upstreams[0]!;
  if (config.upstream.upstreams.length > 1) {
    logger.warn({ upstreams: config.upstream.upstreams.length }, 'worker uses the first upstream of its pool');
  }
  const headers: Record<string, string> = {};
  for (const [name, ref] of Object.entries(upstream.headers)) headers[name] = resolveSecret(ref, process.env, `upstream.headers.${name}`);
  if (upstream.apiKey !== undefined) headers.authorization = `Bearer ${resolveSecret(upstream.apiKey, process.env, 'upstream.apiKey')}`;
  return new HttpModelClient(new URL(upstream.url).origin, config.upstream.timeouts, upstream.connections, headers);
}
