import { ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactManifest, ARTIFACT_MANIFEST_FILE, defaultArtifactsDir } from '../constructs/artifacts/runtime-artifacts';
import { freePort } from './local/ports';
import { amqpAnswers, DEFAULT_AMQP_URL, DEFAULT_REDIS, redisAnswers, startPrivateRedis } from './local/services';
import { formatStatus, parseStatus } from './local/status';

/**
 * `npm run local [-- --burst] [--port 8080] [--prefix surgeguard-local]`: the data plane on this
 * machine, from the bundles in dist/artifacts (not the TypeScript sources): two simulated model
 * servers, the proxy and a worker, with Redis and RabbitMQ at their default local addresses (or the
 * URLs in SURGEGUARD_REDIS_URL / SURGEGUARD_AMQP_URL, which must answer). Prints where to send
 * requests and the example keys, then a live status line; Ctrl-C stops every process it started.
 */

/** Example keys of the local config (accepted on 127.0.0.1 only; their SHA-256 is what the config holds). */
export const LOCAL_KEYS = { realtime: 'sk-local-realtime', app: 'sk-local-app', batch: 'sk-local-batch' } as const;
export const LOCAL_MODEL = 'local-model';
/** Generation slots of each simulated model server (4 requests at a time, 40 tokens/s each). */
const SIM_SLOTS = 4;

interface Options {
  burst: boolean;
  port: number;
  prefix: string;
  statusIntervalMs: number;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { burst: false, port: 8080, prefix: 'surgeguard-local', statusIntervalMs: 1_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--burst') o.burst = true;
    else if (a === '--port') o.port = Number(argv[++i]);
    else if (a === '--prefix') o.prefix = String(argv[++i]);
    else throw new Error(`unknown option ${a} (known: --burst, --port <n>, --prefix <name>)`);
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new Error('--port needs a port number (0 = any free port)');
  if (!/^[A-Za-z0-9_.-]+$/.test(o.prefix)) throw new Error('--prefix may hold letters, digits, _ . - only');
  return o;
}


const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child process of the session, its output going to a log file. */
interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
  readonly exited: Promise<void>;
}

async function waitReady(url: string, what: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited during start-up`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${what} did not become ready at ${url} within ${timeoutMs / 1000} s`);
}

/** Fires a burst at the proxy: many low-priority calls and a few real-time ones, at once. */
async function burst(base: string): Promise<string> {
  let example: string | undefined;
  const call = (key: string, headers: Record<string, string>) =>
    fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
      body: JSON.stringify({ model: LOCAL_MODEL, messages: [{ role: 'user', content: 'burst' }], max_tokens: 32 }),
      signal: AbortSignal.timeout(60_000),
    }).then(
      async (r) => {
        const body = await r.text();
        if (r.status >= 400 && example === undefined) example = `${r.status} retry-after: ${r.headers.get('retry-after') ?? '-'} ${body.trim()}`;
        return r.status;
      },
      () => 0,
    );
  const low = Array.from({ length: 120 }, () => call(LOCAL_KEYS.batch, {}));
  const critical = Array.from({ length: 10 }, () => call(LOCAL_KEYS.realtime, { 'x-realtime': 'true' }));
  const [l, c] = await Promise.all([Promise.all(low), Promise.all(critical)]);
  const count = (xs: number[]) => {
    const by = new Map<number, number>();
    for (const x of xs) by.set(x, (by.get(x) ?? 0) + 1);
    return [...by.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${n}x ${s === 0 ? 'error' : s}`).join(', ');
  };
  return `burst: low ${l.length} sent -> ${count(l)}; critical ${c.length} sent -> ${count(c)}${example ? `\nburst: a shed low-priority call got ${example}` : ''}`;
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const dir = defaultArtifactsDir();
  const manifestPath = join(dir, ARTIFACT_MANIFEST_FILE);
  if (!existsSync(manifestPath)) throw new Error(`${manifestPath} not found: run \`npm run bundle\` first`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as ArtifactManifest;
  const bundle = (name: string) => {
    const a = manifest.artifacts[name];
    if (!a) throw new Error(`${manifestPath} lists no ${name} bundle: run \`npm run bundle\``);
    const path = join(dir, a.file);
    if (createHash('sha256').update(readFileSync(path)).digest('hex') !== a.sha256) {
      throw new Error(`${path} does not match its SHA-256 in the manifest: run \`npm run bundle\``);
    }
    return { path, sha256: a.sha256 };
  };
  const bundles = { proxy: bundle('proxy'), worker: bundle('worker'), simulator: bundle('simulator') };

  const work = mkdtempSync(join(tmpdir(), 'surgeguard-local-'));
  const managed: Managed[] = [];
  let stopping = false;
  const say = (line: string) => process.stdout.write(`${line}\n`);

  const start = (name: string, args: string[], env: Record<string, string> = {}): Managed => {
    const log = join(work, `${name}.log`);
    const out = createWriteStream(log);
    const child = spawn(process.execPath, ['--enable-source-maps', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const m = { name, child, log, exited };
    managed.push(m);
    return m;
  };

  const stopAll = async (): Promise<void> => {
    for (const m of [...managed].reverse()) if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGTERM');
    const all = Promise.all(managed.map((m) => m.exited));
    const timedOut = await Promise.race([all.then(() => false), sleep(15_000).then(() => true)]);
    if (timedOut) for (const m of managed) if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
    await Promise.race([all, sleep(2_000)]);
    rmSync(work, { recursive: true, force: true });
  };

  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const shutdown = (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\n');
    say(`local: ${why}; stopping ${managed.map((m) => `${m.name} (pid ${m.child.pid})`).join(', ')}`);
    void stopAll().then(() => {
      say('local: stopped, no process left behind');
      finish(code);
    });
  };
  process.on('SIGINT', () => shutdown('Ctrl-C', 0));
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));

  try {
    // ---- data services -----------------------------------------------------------------------
    const redisUrl = process.env.SURGEGUARD_REDIS_URL;
    let redis: { host: string; port: number } | undefined;
    if (redisUrl) {
      const u = new URL(redisUrl);
      redis = { host: u.hostname, port: Number(u.port || 6379) };
      if (!(await redisAnswers(redis.host, redis.port))) throw new Error(`SURGEGUARD_REDIS_URL=${redisUrl} does not answer`);
      say(`local: Redis       ${redisUrl} (configured)`);
    } else if (await redisAnswers(DEFAULT_REDIS.host, DEFAULT_REDIS.port)) {
      redis = DEFAULT_REDIS;
      say(`local: Redis       redis://${DEFAULT_REDIS.host}:${DEFAULT_REDIS.port} (answered at the default address)`);
    } else {
      const port = await freePort();
      const child = await startPrivateRedis(port, work);
      if (child) {
        managed.push({ name: 'redis-server', child, log: '', exited: new Promise((r) => child.once('exit', () => r())) });
        redis = { host: '127.0.0.1', port };
        say(`local: Redis       STAND-IN: nothing answered at 127.0.0.1:6379, started a private redis-server on :${port} for this session only (no persistence)`);
      } else {
        say('local: Redis       STAND-IN: none answered and redis-server is not installed; the proxy keeps rate limits in process and async jobs are off');
      }
    }
    const amqpUrl = process.env.SURGEGUARD_AMQP_URL ?? DEFAULT_AMQP_URL;
    let amqp: string | undefined;
    if (await amqpAnswers(amqpUrl)) {
      amqp = amqpUrl;
      say(`local: RabbitMQ    ${amqpUrl.replace(/\/\/[^@]*@/, '//')} (${process.env.SURGEGUARD_AMQP_URL ? 'configured' : 'answered at the default address'})`);
    } else if (process.env.SURGEGUARD_AMQP_URL) {
      throw new Error('SURGEGUARD_AMQP_URL does not answer');
    } else {
      say('local: RabbitMQ    NOT RUNNING at 127.0.0.1:5672: async jobs are off (start rabbitmq-server, or run scripts/services.sh, for /v1/jobs)');
    }
    const jobs = Boolean(amqp && redis);

    // ---- simulated model servers --------------------------------------------------------------
    const sims: string[] = [];
    for (const name of ['sim-a', 'sim-b']) {
      const port = await freePort();
      const m = start(name, [bundles.simulator.path, '--port', String(port), '--host', '127.0.0.1', '--slots', String(SIM_SLOTS), '--queue', '8', '--tps', '40', '--tokens', '24', '--models', LOCAL_MODEL, '--name', name]);
      await waitReady(`http://127.0.0.1:${port}/health`, name, m.child);
      sims.push(`http://127.0.0.1:${port}`);
    }
    const pool = { upstreams: sims.map((url, i) => ({ url, name: `sim-${'ab'[i]}` })) };
    const redisConfig = redis ? { host: redis.host, port: redis.port, keyPrefix: `${o.prefix}:` } : undefined;

    // ---- proxy -----------------------------------------------------------------------------------
    const port = o.port === 0 ? await freePort() : o.port;
    const proxyConfig = {
      server: { host: '127.0.0.1', port },
      auth: {
        keys: [
          { name: 'local-realtime', sha256: sha256(LOCAL_KEYS.realtime), tier: 'critical' },
          { name: 'local-app', sha256: sha256(LOCAL_KEYS.app), tier: 'high' },
          { name: 'local-batch', sha256: sha256(LOCAL_KEYS.batch), tier: 'low' },
        ],
      },
      pools: { local: pool },
      routes: [{ model: LOCAL_MODEL, pools: ['local'] }],
      ...(redisConfig ? { redis: redisConfig } : {}),
      ...(jobs ? { jobs: { amqp: { url: amqp, topologyPrefix: o.prefix } } } : {}),
      // The brief's 10 requests/s (burst 20) per key for every class but low, whose higher local
      // limit lets `--burst` show load shedding by admission rather than the rate limit.
      rateLimit: { requests: { low: { ratePerSecond: 100, burst: 200 } } },
      // Admission in front of the pool: as many in flight as the simulators have slots.
      admission: { pools: { local: { maxConcurrency: SIM_SLOTS * sims.length } } },
      logging: { level: 'info', accessLog: false },
    };
    const proxyFile = join(work, 'proxy.json');
    writeFileSync(proxyFile, JSON.stringify(proxyConfig, null, 2));
    const proxy = start('proxy', [bundles.proxy.path, '--config', proxyFile]);
    const base = `http://127.0.0.1:${port}`;
    await waitReady(`${base}/readyz`, 'proxy', proxy.child);

    // ---- worker ----------------------------------------------------------------------------------
    let workerMetrics: string | undefined;
    if (jobs) {
      const wport = await freePort();
      const workerFile = join(work, 'worker.json');
      writeFileSync(
        workerFile,
        JSON.stringify({ server: { host: '127.0.0.1', port: wport }, amqp: { url: amqp, topologyPrefix: o.prefix }, redis: redisConfig, upstream: pool, concurrency: 4 }, null, 2),
      );
      const worker = start('worker', [bundles.worker.path, '--config', workerFile]);
      await waitReady(`http://127.0.0.1:${wport}/readyz`, 'worker', worker.child);
      workerMetrics = `http://127.0.0.1:${wport}/metrics`;
    }

    for (const m of managed) {
      void m.exited.then(() => {
        if (!stopping) shutdown(`${m.name} exited unexpectedly (code ${m.child.exitCode ?? m.child.signalCode}; log ${m.log})`, 1);
      });
    }
    say(`local: bundles     proxy ${bundles.proxy.sha256.slice(0, 12)}  worker ${bundles.worker.sha256.slice(0, 12)}  simulator ${bundles.simulator.sha256.slice(0, 12)} (dist/artifacts)`);
    say(`local: model servers ${sims.join(' ')} (simulated, model "${LOCAL_MODEL}")`);
    say(`local: proxy       ${base}   logs: ${work}/`);
    say(`local: example key ${LOCAL_KEYS.realtime} (tier critical)   app key ${LOCAL_KEYS.app} (tier high)   batch key ${LOCAL_KEYS.batch} (tier low)`);
    say(`local: try         curl -s ${base}/v1/chat/completions -H 'authorization: Bearer ${LOCAL_KEYS.realtime}' -H 'content-type: application/json' -d '{"model":"${LOCAL_MODEL}","messages":[{"role":"user","content":"hi"}]}'`);
    say(`local: async jobs  ${jobs ? `POST ${base}/v1/jobs, then GET the returned url` : 'off (needs Redis and RabbitMQ)'}`);
    say('local: Ctrl-C stops everything');

    // ---- status line -----------------------------------------------------------------------------
    const tty = process.stdout.isTTY === true;
    let lastPrinted = 0;
    const status = setInterval(() => {
      void (async () => {
        if (stopping) return;
        const text = async (url?: string) => (url ? fetch(url, { signal: AbortSignal.timeout(900) }).then((r) => r.text(), () => '') : '');
        const line = formatStatus(parseStatus(await text(`${base}/metrics`), await text(workerMetrics)));
        if (stopping) return;
        if (tty) process.stdout.write(`\r\x1b[2K${line}`);
        else if (Date.now() - lastPrinted >= 5_000) {
          lastPrinted = Date.now();
          say(`status: ${line}`);
        }
      })();
    }, o.statusIntervalMs);
    void finished.then(() => clearInterval(status));

    if (o.burst) {
      const summary = await burst(base);
      if (!stopping) {
        if (tty) process.stdout.write('\n');
        say(summary);
      }
    }
  } catch (err) {
    say(`local: ${(err as Error).message}`);
    shutdown('start-up failed', 1);
  }
  return finished;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`local: ${err.message}\n`);
      process.exit(2);
    },
  );
}
