import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import * as amqp from 'amqplib';
import { buildTopology, JobQueueTopology, TopologyOptions } from '../../contract/queue-topology';
import { deleteTopology } from '../../runtime/jobs/topology';
import { freePort } from '../../tools/local/ports';

export { freePort } from '../../tools/local/ports';
export { PrivateRabbitMQ } from '../../tools/local/private-rabbitmq';

/**
 * The local services tests run against (scripts/services.sh installs and starts them), with
 * bounded waits that fail loudly, per-test names, and clean-up that never flushes shared state.
 */
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


/** A private, throw-away redis-server on its own port that a test may kill and restart. */
export class PrivateRedis {
  private proc: ChildProcess | undefined;
  /** `extraArgs` are added to the redis-server command line (e.g. `--replicaof 127.0.0.1 <port>`). */
  constructor(
    readonly port: number,
    private readonly extraArgs: readonly string[] = [],
  ) {}

  static async start(extraArgs: readonly string[] = []): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort(), extraArgs);
    await r.start();
    return r;
  }

  async start(timeoutMs = 10_000): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.extraArgs], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const c = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      try {
        await c.connect();
        await c.ping();
        c.disconnect();
        return;
      } catch {
        c.disconnect();
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    throw new Error(`private redis-server on port ${this.port} did not start within ${timeoutMs} ms`);
  }

  /** Resolves once this server, started as a replica (`--replicaof`), reports its link to the primary up. */
  async waitReplicaLinkUp(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const c = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      try {
        await c.connect();
        if ((await c.info('replication')).includes('master_link_status:up')) return;
      } catch {
        // not up yet
      } finally {
        c.disconnect();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`replica on port ${this.port} did not sync within ${timeoutMs} ms`);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }
}

