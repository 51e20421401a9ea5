import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import * as amqp from 'amqplib';
import { buildTopology, JobQueueTopology, TopologyOptions } from '../../contract/queue-topology';
import { deleteTopology } from '../../runtime/jobs/topology';

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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
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

const execFileAsync = promisify(execFile);

/** True once something accepts TCP connections on 127.0.0.1:`port`. */
function portAnswers(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * A private, throw-away RabbitMQ node that a test may stop hard (SIGKILL of its Erlang VM) and
 * start again on the same data, like a broker host that crashed and came back. Never the shared
 * node on 5672: its own node name, AMQP and distribution ports (free ports, loopback only), and
 * its data, logs, config and plugin list in a temp dir of its own, removed by `dispose`.
 *
 * Started with the Debian package's `rabbitmq-server` and driven with `rabbitmqctl -n <node>`,
 * exactly as scripts/services.sh does for the shared node, so the Erlang cookie is found the same
 * way (run as root, the wrapper switches to the `rabbitmq` user and its cookie; the temp dir is
 * handed to that user). The node registers with the machine's epmd under its unique name.
 */
export class PrivateRabbitMQ {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly node: string,
    readonly port: number,
    readonly distPort: number,
    readonly dir: string,
  ) {}

  /** amqp:// URL of the node's default vhost (guest is allowed from loopback). */
  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** Creates the node's files and starts it (bounded by `timeoutMs`; RabbitMQ takes 5-15 s to boot on a busy machine). */
  static async start(timeoutMs = 90_000): Promise<PrivateRabbitMQ> {
    const [port, distPort] = [await freePort(), await freePort()];
    // As root the node runs as the `rabbitmq` user (the package's wrapper switches to it), which
    // cannot enter jest's private 0700 temp dir: use the system temp dir then.
    const base = process.getuid?.() === 0 ? '/tmp' : tmpdir();
    const dir = mkdtempSync(join(base, 'surgeguard-rabbitmq-'));
    const node = `sgtest-${randomBytes(4).toString('hex')}@localhost`;
    writeFileSync(join(dir, 'enabled_plugins'), '[].\n'); // no management/prometheus listeners on shared ports
    writeFileSync(join(dir, 'rabbitmq.conf'), [`listeners.tcp.default = 127.0.0.1:${port}`, 'loopback_users.guest = true', ''].join('\n'));
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'rabbitmq']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'rabbitmq']).toString().trim());
      for (const path of [dir, join(dir, 'enabled_plugins'), join(dir, 'rabbitmq.conf')]) chownSync(path, uid, gid);
    }
    const broker = new PrivateRabbitMQ(node, port, distPort, dir);
    try {
      await broker.start(timeoutMs);
    } catch (err) {
      await broker.dispose();
      throw err;
    }
    return broker;
  }

  private env(): NodeJS.ProcessEnv {
    const d = this.dir;
    return {
      ...process.env,
      RABBITMQ_NODENAME: this.node,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_CONFIG_FILE: join(d, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(d, 'advanced.config'),
      RABBITMQ_CONF_ENV_FILE: join(d, 'rabbitmq-env.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(d, 'enabled_plugins'),
      RABBITMQ_PLUGINS_EXPAND_DIR: join(d, 'plugins-expand'),
      RABBITMQ_MNESIA_BASE: join(d, 'mnesia'),
      RABBITMQ_LOG_BASE: join(d, 'log'),
      RABBITMQ_PID_FILE: join(d, 'node.pid'),
      // the distribution listener on loopback too (it binds every interface by default)
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    };
  }

  private ctl(args: readonly string[], timeoutMs: number) {
    return execFileAsync('rabbitmqctl', ['-n', this.node, ...args], { timeout: timeoutMs, env: this.env() });
  }

  /** Starts (or restarts, on the same data) the node; resolves once it accepts AMQP connections. */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.running) throw new Error(`private RabbitMQ ${this.node} is already running`);
    rmSync(join(this.dir, 'node.pid'), { force: true });
    const out = openSync(join(this.dir, 'server.out'), 'a');
    const proc = spawn('rabbitmq-server', [], { env: this.env(), stdio: ['ignore', out, out] });
    closeSync(out);
    this.proc = proc;
    this.exited = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    proc.once('error', () => undefined);
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`private RabbitMQ ${this.node} exited during start-up (${proc.exitCode ?? proc.signalCode}): ${this.tail()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`private RabbitMQ ${this.node} did not start within ${timeoutMs} ms (${last}): ${this.tail()}`);
      try {
        // await_startup fails at once while the node is not registered yet: poll it.
        await this.ctl(['-q', 'await_startup', '--timeout', String(Math.max(1, Math.ceil(left / 1000)))], left + 5_000);
        if (await portAnswers(this.port)) return;
        last = 'AMQP port not accepting yet';
      } catch (err) {
        last = (err as Error).message.split('\n')[0] ?? '';
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  get running(): boolean {
    const p = this.proc;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** Hard stop: SIGKILL of the Erlang VM (no shutdown sequence, like a crashed host); resolves once the AMQP port is closed. */
  async kill(timeoutMs = 30_000): Promise<void> {
    if (!this.running) return;
    const pid = Number(readFileSync(join(this.dir, 'node.pid'), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) throw new Error(`private RabbitMQ ${this.node}: no pid in its pid file`);
    process.kill(pid, 'SIGKILL');
    await this.waitExited(timeoutMs);
  }

  /** Graceful stop (`rabbitmqctl shutdown`); resolves once the node is gone. */
  async shutdown(timeoutMs = 60_000): Promise<void> {
    if (!this.running) return;
    await this.ctl(['-q', 'shutdown'], timeoutMs);
    await this.waitExited(timeoutMs);
  }

  private async waitExited(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const exited = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref())]);
    if (!exited) throw new Error(`private RabbitMQ ${this.node} still running ${timeoutMs} ms after it was stopped`);
    while (await portAnswers(this.port, 500)) {
      if (Date.now() > deadline) throw new Error(`private RabbitMQ ${this.node}: port ${this.port} still open after the stop`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops the node hard if it runs and removes its directory: call it in afterAll, failure or not. */
  async dispose(): Promise<void> {
    try {
      if (this.running) {
        // The VM writes its pid file early in its boot: wait for it (bounded) if a failed start
        // is being cleaned up, then kill the VM; the wrapper processes exit with it.
        let pid = NaN;
        for (const end = Date.now() + 30_000; this.running && Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
          try {
            pid = Number(readFileSync(join(this.dir, 'node.pid'), 'utf8').trim());
            if (Number.isInteger(pid) && pid > 1) break;
          } catch {
            // not written yet
          }
        }
        if (Number.isInteger(pid) && pid > 1) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        } else await this.ctl(['-q', 'shutdown'], 30_000).catch(() => undefined);
        await Promise.race([this.exited, new Promise((r) => setTimeout(r, 30_000).unref())]);
      }
    } finally {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
    }
  }

  private tail(): string {
    try {
      return readFileSync(join(this.dir, 'server.out'), 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no output)';
    }
  }
}
