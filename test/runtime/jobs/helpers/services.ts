import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import * as amqp from 'amqplib';
import { buildTopology, JobQueueTopology, TopologyOptions } from '../../../../runtime/common/queue-topology';
import { deleteTopology } from '../../../../runtime/jobs/topology';

/** Local services of the test machine (scripts/services.sh starts them). */
export const REDIS_URL = process.env.SURGEGUARD_TEST_REDIS ?? 'redis://127.0.0.1:6379';
export const AMQP_URL = process.env.SURGEGUARD_TEST_AMQP ?? 'amqp://guest:guest@127.0.0.1:5672';

export function uniqueName(file: string): string {
  return `test-${file}-${randomBytes(4).toString('hex')}`;
}

async function retryUntil<T>(what: string, timeoutMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await attempt();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`${what} did not answer within ${timeoutMs} ms (run scripts/services.sh): ${(last as Error)?.message}`);
}

/** A Redis client once Redis answers (bounded wait, loud failure). */
export async function connectRedis(): Promise<Redis> {
  return retryUntil('redis', 15_000, async () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    try {
      await client.connect();
      await client.ping();
      return client;
    } catch (err) {
      client.disconnect();
      throw err;
    }
  });
}

/** Deletes every key under a prefix (SCAN, never FLUSH). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

export async function connectAmqp(): Promise<amqp.ChannelModel> {
  return retryUntil('rabbitmq', 30_000, () => amqp.connect(AMQP_URL));
}

/** A topology of its own for a test file (short retry delays), deleted by `dispose`. */
export async function testTopology(
  file: string,
  options: TopologyOptions = { retryDelaysMs: [200, 400, 800] },
): Promise<{ topology: JobQueueTopology; prefix: string; dispose: () => Promise<void> }> {
  const prefix = uniqueName(file);
  const topology = buildTopology(prefix, options);
  return {
    topology,
    prefix,
    dispose: async () => {
      const conn = await connectAmqp();
      try {
        const ch = await conn.createChannel();
        await deleteTopology(ch, topology);
        await ch.close();
      } finally {
        await conn.close();
      }
    },
  };
}

export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false>, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
