import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, portAnswers } from './ports';

const execFileAsync = promisify(execFile);

/**
 * A private, throw-away RabbitMQ node that a test or a benchmark may stop hard (SIGKILL of its Erlang VM) and
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

  /** amqp:// URL of one of the node's vhosts. */
  vhostUrl(vhost: string): string {
    return `${this.url}/${encodeURIComponent(vhost)}`;
  }

  /** Adds a vhost that guest may use entirely. */
  async addVhost(vhost: string, timeoutMs = 120_000): Promise<void> {
    await this.ctl(['-q', 'add_vhost', vhost], timeoutMs);
    await this.ctl(['-q', 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*'], timeoutMs);
  }

  /**
   * Creates the node's files and starts it (bounded by `timeoutMs`; RabbitMQ takes 5-15 s to boot
   * on a quiet machine, much longer on a busy one). `namePrefix` names the node for its user.
   */
  static async start(options: { timeoutMs?: number; namePrefix?: string } = {}): Promise<PrivateRabbitMQ> {
    const { timeoutMs = 90_000, namePrefix = 'sgtest' } = options;
    const [port, distPort] = [await freePort(), await freePort()];
    // As root the node runs as the `rabbitmq` user (the package's wrapper switches to it), which
    // cannot enter jest's private 0700 temp dir: use the system temp dir then.
    const base = process.getuid?.() === 0 ? '/tmp' : tmpdir();
    const dir = mkdtempSync(join(base, 'surgeguard-rabbitmq-'));
    const node = `${namePrefix}-${randomBytes(4).toString('hex')}@localhost`;
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
    while (await portAnswers(this.port, '127.0.0.1', 500)) {
      if (Date.now() > deadline) throw new Error(`private RabbitMQ ${this.node}: port ${this.port} still open after the stop`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** For a signal handler, where nothing can be awaited: SIGKILL of the VM if its pid is known, and the directory removed. */
  killNowAndRemove(): void {
    try {
      const pid = Number(readFileSync(join(this.dir, 'node.pid'), 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGKILL');
    } catch {
      // not started or already gone
    }
    this.proc?.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
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
