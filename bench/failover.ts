import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { parse } from 'yaml';
import { seededRandom } from '../runtime/common/clock';
import { PRIORITY_CLASSES, type PriorityClass } from '../contract/priority';
import { RUNTIME_SECRET_ENV } from '../contract/secrets';
import { HOSTS_OVERRIDE_ENV } from '../runtime/common/upstream/resolver';
import { homeRegionOf } from '../runtime/jobs/model';
import { failoverBudgetFromSynth } from '../tools/common/failover-budget-from-synth';
import { loadSynthOutput } from '../tools/common/synth-output';
import type { HealthCheckNumbers } from '../contract/failover-budget';
import { renderPanels, type Rgb } from './lib/png-chart';
import { waitForPort } from '../tools/local/ports';
import { PrivateRabbitMQ } from '../tools/local/private-rabbitmq';
import { freePort, ChildGroup, type Child } from './lib/processes';
import { NAIVE_RETRY, playSchedule, poissonSchedule, round, successPerSecond, type Outcome, type Phase } from './lib/surge-client';

/**
 * Failover rehearsal: `npm run bench:failover`.
 *
 * Three local "regions" run the proxy and worker configs the prod synth renders for them (read
 * from cdktf.out), behind a local stand-in for Global Accelerator; steady traffic with the
 * 10/20/30/40 % class mix and asynchronous jobs flows through it; then one region loses all its
 * compute (every process SIGKILLed) and later comes back. What the clients saw is printed.
 *
 * One region here:
 * - model servers: 2 simulators on the Service's port, on loopback addresses of the region's own
 *   /24, slots scaled down like bench:cell (synth slots / 32), each journalling the job ids it
 *   served completely (how often a job really ran);
 * - 2 proxy replicas (dist/runtime/proxy/main.js) with the region's rendered proxy.yaml, the
 *   headless Service and every peer's regional endpoint mapped to local addresses through
 *   SURGEGUARD_HOSTS_FILE, like DNS would;
 * - 1 worker (dist/runtime/worker/main.js) with the region's rendered worker.yaml;
 * - its own Redis: a primary and one replica (the rendered worker waits for 1 replica before it
 *   acks), each redis-server with an append-only file fsynced at every write;
 * - its own vhost on the run's own RabbitMQ node (a private node on free ports, removed at the
 *   end; never the shared broker on 5672, which is neither used nor restarted: while this was
 *   written, vhost operations on it hung for minutes and new connections timed out);
 * - its regional entry (the NLB+ALB stand-in): haproxy terminating TLS on <net>.1:443 for the
 *   regional name (the peers forward job requests there), checking each proxy's /readyz with the
 *   synthesized ALB target group's interval and thresholds.
 * The accelerator stand-in: haproxy (TCP, TLS passed through, like GA) in front of the three
 * regional entries, checking each one's HTTPS /readyz with the interval, timeout and thresholds of
 * the synthesized NLB target groups (Global Accelerator follows the NLB's target health for NLB
 * endpoints) and sending new connections round robin to the healthy ones.
 *
 * The failure model: a region loses its compute (proxies, model servers, worker) and its Redis
 * processes; its load balancers (AWS-managed) and its broker (Amazon MQ, multi-AZ; here its vhost
 * on the run's RabbitMQ node, which is not killed) stay. Redis comes back from its own files: this
 * stands for the regional ElastiCache keeping what it acknowledged (multi-AZ replicas). A real
 * outage that destroys the regional data stores in every AZ is not what this rehearses.
 *
 * Env knobs: FAILOVER_TIMELINE="before,down,after" seconds (default 30,60,45), FAILOVER_KILL
 * (region, default the second), FAILOVER_RATE (sync req/s, default 12), FAILOVER_JOB_RATE (jobs/s,
 * default 1.5), FAILOVER_SYNTH=0 to reuse an existing cdktf.out, FAILOVER_SEED, FAILOVER_KEEP_LOGS=1.
 */

const ROOT = resolve(__dirname, '..', '..');
const RESULTS = join(ROOT, 'bench', 'results');
const SLOT_SCALE = 32;
const SIM = { perRegion: 2, tokens: 30, tokensPerSecond: 40 };
const JOB_TOKENS = 120;
const REPLICAS = 2;
const DEADLINE_MS = 10_000;
const MIX: Record<PriorityClass, number> = { critical: 0.1, high: 0.2, medium: 0.3, low: 0.4 };
const [BEFORE_S, DOWN_S, AFTER_S] = (process.env.FAILOVER_TIMELINE ?? '30,60,45').split(',').map(Number);
const RATE = Number(process.env.FAILOVER_RATE ?? 12);
const JOB_RATE = Number(process.env.FAILOVER_JOB_RATE ?? 1.5);
const SEED = Number(process.env.FAILOVER_SEED ?? 7);
const JOB_POLL_MS = 2_000;
/** Jobs submitted at once shortly before the kill. */
const KILL_BURST = { jobs: 30, leadMs: 1_500 };
const DRAIN_BOUND_MS = 120_000;
const TARGETS = { recoveryS: 30, criticalPct: 99 };
const RUN_ID = randomBytes(4).toString('hex');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

// ---------------------------------------------------------------- the synthesized prod config

interface Synthesized {
  readonly regions: string[];
  readonly proxy: Record<string, Doc>;
  readonly worker: Record<string, Doc>;
  readonly nlb: HealthCheckNumbers;
  readonly alb: HealthCheckNumbers;
}

function readSynth(): Synthesized {
  const out = loadSynthOutput(join(ROOT, 'cdktf.out'));
  const { budget, proxyConfigs } = failoverBudgetFromSynth(out, 'prod');
  const regions = Object.keys(proxyConfigs).sort();
  const worker: Record<string, Doc> = {};
  for (const region of regions) {
    const file = join(ROOT, 'cdktf.out', 'stacks', `prod-${region}-workloads`, 'cdk.tf.json');
    const tf = JSON.parse(readFileSync(file, 'utf8')) as { resource: Record<string, Record<string, Doc>> };
    const yaml = Object.values(tf.resource.kubernetes_config_map_v1 ?? {})
      .map((m) => m.data?.['worker.yaml'] as string | undefined)
      .find((d) => d !== undefined);
    if (!yaml) throw new Error(`${file}: no ConfigMap with worker.yaml`);
    worker[region] = parse(yaml) as Doc;
  }
  return { regions, proxy: proxyConfigs as Record<string, Doc>, worker, nlb: budget.nlbTarget, alb: budget.albTarget };
}

// ---------------------------------------------------------------- processes

/** Every child this run started, so a signal or a crash still stops them all. */
const CHILDREN = new ChildGroup();
const startChild = CHILDREN.start.bind(CHILDREN);

/**
 * The run's own RabbitMQ node (never the shared one on 5672), one vhost per region. It stands for
 * each region's Amazon MQ broker, which a loss of the region's compute does not touch: it is never
 * killed during the run.
 */
let BROKER: PrivateRabbitMQ | undefined;
function cleanupBroker(): void {
  BROKER?.killNowAndRemove();
  BROKER = undefined;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => (CHILDREN.killAll(), cleanupBroker(), process.exit(130)));


function haproxyCheck(c: HealthCheckNumbers): string {
  return `check inter ${c.intervalSeconds}s fall ${c.unhealthyThreshold} rise ${c.healthyThreshold}`;
}

// ---------------------------------------------------------------- one region

interface RegionPlan {
  readonly name: string;
  readonly net: string;
  readonly dir: string;
  /** The region's vhost on the run's broker. */
  readonly vhost: string;
  readonly redisPort: number;
  readonly replicaPort: number;
  readonly workerPort: number;
  readonly entry: { address: string; port: number; host: string };
  readonly modelServer: { host: string; port: number; slots: number };
}

interface Region extends RegionPlan {
  children: Child[];
  sims: string[];
  alive: boolean;
  balancer?: Child;
}

/** Everything one region's processes need, fixed before the first start so a restore reuses it. */
async function planRegion(name: string, s: Synthesized, base: string): Promise<RegionPlan> {
  const b = randomBytes(2);
  const net = `127.${20 + (b[0] % 200)}.${b[1]}`;
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  const discover = s.proxy[name].pools['model-servers'].discover[0] as { url: string; slots: number };
  const ms = new URL(discover.url);
  const peerUrl = Object.entries(s.proxy).find(([r]) => r !== name)![1].regions.peers[name].url as string;
  const entryUrl = new URL(peerUrl);
  return {
    name,
    net,
    dir,
    vhost: name,
    redisPort: await freePort(),
    replicaPort: await freePort(),
    workerPort: await freePort(),
    entry: { address: `${net}.1`, port: Number(entryUrl.port || 443), host: entryUrl.hostname },
    modelServer: { host: ms.hostname, port: Number(ms.port || 80), slots: Math.max(1, Math.round(discover.slots / SLOT_SCALE)) },
  };
}

interface World {
  readonly synth: Synthesized;
  readonly regions: Record<string, Region>;
  readonly keys: Record<string, string>;
  readonly tls: { pem: string; ca: string };
}

function hostsOf(w: World, r: RegionPlan): Record<string, string[]> {
  const hosts: Record<string, string[]> = { [r.modelServer.host]: Array.from({ length: SIM.perRegion }, (_, i) => `${r.net}.${10 + i}`) };
  for (const peer of Object.values(w.regions)) hosts[peer.entry.host] = [peer.entry.address];
  return hosts;
}

function redisArgs(dir: string, port: number, replicaOf?: number): string[] {
  return [
    ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--protected-mode', 'no', '--daemonize', 'no'],
    ...['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
    ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : []),
  ];
}

/** Starts (or restarts, after a kill) every process of the region's compute and its Redis. */
async function startRegionProcesses(w: World, r: Region): Promise<void> {
  const started: Child[] = [];
  const redisReady = (o: string) => o.includes('Ready to accept connections');
  for (const [sub, port, of] of [['redis-primary', r.redisPort, undefined], ['redis-replica', r.replicaPort, r.redisPort]] as const) {
    mkdirSync(join(r.dir, sub), { recursive: true });
    started.push(await startChild('redis-server', redisArgs(join(r.dir, sub), port, of), { readyOutput: redisReady, logFile: join(r.dir, `${sub}.log`), timeoutMs: 30_000 }));
  }
  const hostsFile = join(r.dir, 'hosts.json');
  writeFileSync(hostsFile, JSON.stringify(hostsOf(w, r)));
  r.sims = [];
  for (let i = 0; i < SIM.perRegion; i++) {
    const address = `${r.net}.${10 + i}`;
    started.push(
      await startChild(
        process.execPath,
        [
          join(ROOT, 'dist', 'runtime', 'simulator', 'main.js'),
          ...['--host', address, '--port', String(r.modelServer.port), '--name', `${r.name}-gpu-${i}`, '--models', w.synth.proxy[r.name].routes[0].model],
          ...['--slots', String(r.modelServer.slots), '--tokens', String(SIM.tokens), '--tps', String(SIM.tokensPerSecond), '--queue', '256', '--queue-timeout-ms', '60000'],
          ...['--journal', join(r.dir, `served-${i}.jsonl`)],
        ],
        { probeUrl: `http://${address}:${r.modelServer.port}/health`, logFile: join(r.dir, `sim-${i}.log`), timeoutMs: 60_000 },
      ),
    );
    r.sims.push(`${r.net}.${10 + i}`);
  }
  const amqpUrl = BROKER!.vhostUrl(r.vhost);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [HOSTS_OVERRIDE_ENV]: hostsFile,
    [RUNTIME_SECRET_ENV.amqpUrl]: amqpUrl,
    [RUNTIME_SECRET_ENV.redisAuthToken]: '',
    NODE_EXTRA_CA_CERTS: w.tls.ca,
  };
  const redis = (c: Doc) => ({ ...c, host: '127.0.0.1', port: r.redisPort, tls: false, cluster: false, password: undefined });
  const scaleSlots = (ds: Doc[]) => ds.map((d) => ({ ...d, slots: r.modelServer.slots }));
  // the worker
  const wc = structuredClone(w.synth.worker[r.name]);
  wc.redis = redis(wc.redis);
  wc.upstream.discover = scaleSlots(wc.upstream.discover);
  wc.server = { host: '127.0.0.1', port: r.workerPort };
  wc.logging = { ...wc.logging, level: 'warn' };
  const workerFile = join(r.dir, 'worker.json');
  writeFileSync(workerFile, JSON.stringify(wc, null, 2));
  started.push(
    await startChild(process.execPath, [join(ROOT, 'dist', 'runtime', 'worker', 'main.js'), '--config', workerFile], {
      probeUrl: `http://127.0.0.1:${r.workerPort}/healthz`,
      logFile: join(r.dir, 'worker.log'),
      env,
      timeoutMs: 60_000,
    }),
  );
  // the proxy replicas
  for (let k = 0; k < REPLICAS; k++) {
    const address = `${r.net}.${100 + k}`;
    const c = structuredClone(w.synth.proxy[r.name]);
    c.server = { ...c.server, host: address };
    c.pools['model-servers'].discover = scaleSlots(c.pools['model-servers'].discover);
    c.redis = redis(c.redis);
    c.auth = { ...c.auth, keys: c.auth.keys.map((key: { name: string }) => ({ ...key, sha256: createHash('sha256').update(w.keys[key.name]).digest('hex') })) };
    c.logging = { ...c.logging, accessLog: false, level: 'warn' };
    const file = join(r.dir, `proxy-${k}.json`);
    writeFileSync(file, JSON.stringify(c, null, 2));
    started.push(
      await startChild(process.execPath, [join(ROOT, 'dist', 'runtime', 'proxy', 'main.js'), '--config', file], {
        probeUrl: `http://${address}:${c.server.port ?? 8080}/readyz`,
        logFile: join(r.dir, `proxy-${k}.log`),
        env,
        timeoutMs: 90_000,
      }),
    );
  }
  r.children = started;
  r.alive = true;
}

/** The regional entry (NLB + ALB stand-in): TLS for the regional name, /readyz checks of the proxies. */
async function startRegionalEntry(w: World, r: Region): Promise<void> {
  const c = w.synth.proxy[r.name];
  const port = c.server?.port ?? 8080;
  const cfg = `global
  maxconn 4000
defaults
  mode tcp
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  timeout check ${w.synth.alb.timeoutSeconds}s
frontend fe
  bind ${r.entry.address}:${r.entry.port} ssl crt ${w.tls.pem}
  default_backend proxies
backend proxies
  balance leastconn
  option httpchk GET /readyz
  http-check expect status 200
${Array.from({ length: REPLICAS }, (_, k) => `  server p${k} ${r.net}.${100 + k}:${port} ${haproxyCheck(w.synth.alb)}`).join('\n')}
`;
  const file = join(r.dir, 'entry-haproxy.cfg');
  writeFileSync(file, cfg);
  r.balancer = await startChild('haproxy', ['-db', '-f', file], { readyOutput: () => true, logFile: join(r.dir, 'entry-haproxy.log') });
  await waitForPort(r.entry.address, r.entry.port, 30_000);
}

/** The accelerator stand-in: TCP, TLS passed through, HTTPS /readyz checks with the NLB's numbers. */
async function startAccelerator(w: World, dir: string): Promise<{ port: number; statsPort: number; child: Child }> {
  const port = await freePort();
  const statsPort = await freePort();
  const nlb = w.synth.nlb;
  const cfg = `global
  maxconn 8000
defaults
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  timeout check ${nlb.timeoutSeconds}s
frontend accelerator
  mode tcp
  bind 127.0.0.1:${port}
  default_backend regions
backend regions
  mode tcp
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
${Object.values(w.regions)
  .map((r) => `  server ${r.name} ${r.entry.address}:${r.entry.port} ${haproxyCheck(nlb)} check-ssl verify none`)
  .join('\n')}
listen stats
  mode http
  bind 127.0.0.1:${statsPort}
  stats enable
  stats uri /stats
`;
  const file = join(dir, 'accelerator-haproxy.cfg');
  writeFileSync(file, cfg);
  const child = await startChild('haproxy', ['-db', '-f', file], { readyOutput: () => true, logFile: join(dir, 'accelerator-haproxy.log') });
  await waitForPort('127.0.0.1', port, 30_000);
  return { port, statsPort, child };
}

/** Region status as the accelerator stand-in sees it, sampled every 250 ms: transitions with times. */
class AcceleratorWatch {
  readonly transitions: Array<{ atMs: number; region: string; status: string }> = [];
  private readonly last = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly statsPort: number,
    private readonly t0: () => number,
  ) {}
  start(): void {
    this.timer = setInterval(() => void this.sample(), 250);
  }
  stop(): void {
    clearInterval(this.timer);
  }
  async sample(): Promise<void> {
    try {
      const csv = await (await request(`http://127.0.0.1:${this.statsPort}/stats;csv`, { headersTimeout: 1_000, bodyTimeout: 1_000 })).body.text();
      const header = csv.split('\n')[0].replace(/^# /, '').split(',');
      const [px, sv, st] = ['pxname', 'svname', 'status'].map((h) => header.indexOf(h));
      for (const line of csv.split('\n').slice(1)) {
        const f = line.split(',');
        if (f[px] !== 'regions' || f[sv] === 'BACKEND' || f[sv] === 'FRONTEND' || !f[sv]) continue;
        const status = f[st].split(' ')[0];
        if (this.last.get(f[sv]) !== status) {
          this.last.set(f[sv], status);
          this.transitions.push({ atMs: this.t0(), region: f[sv], status });
        }
      }
    } catch {
      // a missed sample is a coarser transition time, nothing more
    }
  }
}

function selfSignedPem(dir: string, names: string[]): { pem: string; ca: string } {
  const key = join(dir, 'tls.key');
  const crt = join(dir, 'tls.crt');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, '-keyout', key, '-out', crt],
    { stdio: 'ignore' },
  );
  const pem = join(dir, 'tls.pem');
  writeFileSync(pem, readFileSync(crt, 'utf8') + readFileSync(key, 'utf8'));
  return { pem, ca: crt };
}

// ---------------------------------------------------------------- jobs

interface PollAnswer {
  readonly atMs: number;
  /** HTTP status or 'error' (no answer: the connection went to a dead region). */
  readonly status: number | 'error';
  readonly code?: string;
  readonly region?: string;
  readonly retryAfter?: string;
  readonly jobStatus?: string;
}

interface JobTrack {
  readonly n: number;
  readonly key: string;
  readonly cls: PriorityClass;
  readonly firstTryMs: number;
  acceptedAtMs?: number;
  id?: string;
  home?: string;
  refusals: Array<{ atMs: number; status: number | 'error'; code?: string; region?: string }>;
  polls: PollAnswer[];
  final?: string;
  finalAtMs?: number;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

class JobClient {
  readonly jobs: JobTrack[] = [];
  private readonly agent: Agent;
  private stopAt = Infinity;
  private readonly running: Promise<void>[] = [];
  constructor(
    private readonly origin: string,
    tls: { ca: string; servername: string },
    private readonly key: string,
    private readonly model: string,
    private readonly t0: () => number,
  ) {
    this.agent = new Agent({ connections: 256, keepAliveTimeout: 10_000, connect: { ca: tls.ca, servername: tls.servername } });
  }

  submit(n: number, cls: PriorityClass, runId: string): void {
    const job: JobTrack = { n, key: `failover-${runId}-${n}`, cls, firstTryMs: this.t0(), refusals: [], polls: [] };
    this.jobs.push(job);
    this.running.push(this.life(job));
  }

  /** Lets every job finish (or the bound pass), then closes the client. */
  async settle(boundMs: number): Promise<void> {
    this.stopAt = this.t0() + boundMs;
    await Promise.all(this.running);
    await this.agent.close();
  }

  private async life(job: JobTrack): Promise<void> {
    // submit until accepted: a 503 (the key's registrar region is down, or its broker) is retried after its Retry-After
    while (job.id === undefined && this.t0() < this.stopAt) {
      const r = await this.call('POST', '/v1/jobs', job, { model: this.model, messages: [{ role: 'user', content: `job ${job.n}` }], max_tokens: JOB_TOKENS });
      if (r.status === 202 && typeof r.body?.id === 'string') {
        job.id = r.body.id;
        job.home = homeRegionOf(r.body.id);
        job.acceptedAtMs = this.t0();
        break;
      }
      job.refusals.push({ atMs: this.t0(), status: r.status, code: r.body?.error?.code, region: r.body?.region });
      if (r.status !== 'error' && r.status !== 503 && r.status !== 502 && r.status !== 504) return; // a definitive refusal: reported as such
      await sleep(Math.max(1_000, Number(r.retryAfter ?? 1) * 1000));
    }
    while (job.id !== undefined && job.final === undefined && this.t0() < this.stopAt) {
      await sleep(JOB_POLL_MS);
      const r = await this.call('GET', `/v1/jobs/${job.id}`, job);
      job.polls.push({ atMs: this.t0(), status: r.status, code: r.body?.error?.code, region: r.region ?? r.body?.region, retryAfter: r.retryAfter, jobStatus: r.body?.status });
      if (r.status === 200 && TERMINAL.has(r.body?.status)) {
        job.final = r.body!.status as string;
        job.finalAtMs = this.t0();
      }
    }
  }

  private async call(
    method: 'GET' | 'POST',
    path: string,
    job: JobTrack,
    body?: unknown,
  ): Promise<{ status: number | 'error'; body?: Doc; region?: string; retryAfter?: string }> {
    try {
      const res = await request(`${this.origin}${path}`, {
        method,
        dispatcher: this.agent,
        headersTimeout: 15_000,
        bodyTimeout: 15_000,
        headers: {
          authorization: `Bearer ${this.key}`,
          'x-priority': job.cls,
          ...(method === 'POST' ? { 'content-type': 'application/json', 'idempotency-key': job.key } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.body.text();
      let parsed: Doc | undefined;
      try {
        parsed = text ? (JSON.parse(text) as Doc) : undefined;
      } catch {
        parsed = undefined;
      }
      const h = (n: string) => (typeof res.headers[n] === 'string' ? (res.headers[n] as string) : undefined);
      return { status: res.statusCode, body: parsed, region: h('x-surgeguard-region'), retryAfter: h('retry-after') };
    } catch {
      return { status: 'error' };
    }
  }
}

/** How often each job id was served completely, over every simulator journal of every region. */
function servedCounts(regions: Region[]): Map<string, Array<{ at: number; region: string }>> {
  const served = new Map<string, Array<{ at: number; region: string }>>();
  for (const r of regions) {
    for (const f of readdirSync(r.dir).filter((x) => x.startsWith('served-') && x.endsWith('.jsonl'))) {
      for (const line of readFileSync(join(r.dir, f), 'utf8').split('\n').filter(Boolean)) {
        const { job, at } = JSON.parse(line) as { job: string; at: number };
        served.set(job, [...(served.get(job) ?? []), { at, region: r.name }]);
      }
    }
  }
  return served;
}

// ---------------------------------------------------------------- the run

async function main(): Promise<void> {
  if (process.env.FAILOVER_SYNTH !== '0' || !existsSync(join(ROOT, 'cdktf.out', 'stacks', 'prod-global', 'cdk.tf.json'))) {
    console.log('synthesizing prod (node dist/tools/bundle.js; SURGEGUARD_ENV=prod node dist/scripts/synth.js) ...');
    execFileSync(process.execPath, [join(ROOT, 'dist', 'tools', 'bundle.js')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync(process.execPath, [join(ROOT, 'dist', 'scripts', 'synth.js')], { cwd: ROOT, env: { ...process.env, SURGEGUARD_ENV: 'prod' }, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const synth = readSynth();
  if (synth.regions.length < 2) throw new Error(`the prod synth has ${synth.regions.length} region(s); a failover rehearsal needs at least 2`);
  const killed = process.env.FAILOVER_KILL ?? synth.regions[1];
  if (!synth.regions.includes(killed)) throw new Error(`FAILOVER_KILL=${killed}: not a prod region (${synth.regions.join(', ')})`);
  const nlb = synth.nlb;
  const alb = synth.alb;
  console.log(
    `failover rehearsal: prod regions ${synth.regions.join(', ')} from cdktf.out; killing ${killed} at ${BEFORE_S} s, restoring it at ${BEFORE_S + DOWN_S} s, end at ${BEFORE_S + DOWN_S + AFTER_S} s`,
  );
  console.log(
    `  accelerator stand-in checks each region's HTTPS /readyz as the synthesized NLB target groups do: every ${nlb.intervalSeconds} s, timeout ${nlb.timeoutSeconds} s, ` +
      `unhealthy after ${nlb.unhealthyThreshold}, healthy after ${nlb.healthyThreshold} (worst-case detection ${nlb.intervalSeconds * nlb.unhealthyThreshold + nlb.timeoutSeconds} s)`,
  );
  console.log(`  regional entry checks each proxy's /readyz as the synthesized ALB target group does: every ${alb.intervalSeconds} s, timeout ${alb.timeoutSeconds} s, unhealthy after ${alb.unhealthyThreshold}, healthy after ${alb.healthyThreshold}`);

  const base = mkdtempSync(join(tmpdir(), 'surgeguard-failover-'));
  const keys: Record<string, string> = {};
  for (const r of synth.regions) for (const k of synth.proxy[r].auth.keys as { name: string }[]) keys[k.name] ??= randomBytes(24).toString('hex');
  const plans = await Promise.all(synth.regions.map((r) => planRegion(r, synth, base)));
  const accelName = `accelerator.${plans[0].entry.host.slice(plans[0].name.length + 1)}`;
  const tls = selfSignedPem(base, [accelName, ...plans.map((p) => p.entry.host)]);
  const regions: Record<string, Region> = {};
  for (const p of plans) regions[p.name] = { ...p, children: [], sims: [], alive: false };
  const world: World = { synth, regions, keys, tls };
  let accelerator: { port: number; statsPort: number; child: Child } | undefined;
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  let result: Doc | undefined;
  try {
    const brokerStart = Date.now();
    BROKER = await PrivateRabbitMQ.start({ timeoutMs: 180_000, namePrefix: `sgfailover-${RUN_ID}` });
    for (const r of Object.values(regions)) await BROKER.addVhost(r.vhost);
    console.log(`  the run's RabbitMQ node ${BROKER.node} on 127.0.0.1:${BROKER.port}, one vhost per region: up in ${((Date.now() - brokerStart) / 1000).toFixed(0)} s`);
    const setupStart = Date.now();
    for (const r of Object.values(regions)) {
      await startRegionProcesses(world, r);
      await startRegionalEntry(world, r);
      console.log(`  ${r.name}: ${REPLICAS} proxies, ${SIM.perRegion} model servers x ${r.modelServer.slots} slots, worker, Redis :${r.redisPort} (+ replica :${r.replicaPort}), vhost ${r.vhost}, entry ${r.entry.host} -> ${r.entry.address}:${r.entry.port}`);
    }
    accelerator = await startAccelerator(world, base);
    const watch = new AcceleratorWatch(accelerator.statsPort, () => now());
    watch.start();
    // the accelerator admits a region after `rise` good checks: wait until all are UP
    const upDeadline = Date.now() + 120_000;
    while (synth.regions.some((r) => !watch.transitions.some((t) => t.region === r && t.status === 'UP') || lastStatus(watch, r) !== 'UP')) {
      if (Date.now() > upDeadline) throw new Error(`the accelerator stand-in did not see every region up: ${JSON.stringify(watch.transitions)}`);
      await sleep(250);
    }
    console.log(`  set up in ${((Date.now() - setupStart) / 1000).toFixed(0)} s; load average ${load()}`);

    const origin = `https://127.0.0.1:${accelerator.port}`;
    const clientTls = { ca: readFileSync(tls.ca, 'utf8'), servername: accelName };
    const criticalKey = keys[(synth.proxy[synth.regions[0]].auth.keys as { name: string; tier: string }[]).find((k) => k.tier === 'critical')!.name];
    const model = synth.proxy[synth.regions[0]].routes[0].model as string;
    const totalS = BEFORE_S + DOWN_S + AFTER_S;
    const phases: Phase[] = [{ name: 'steady', durationS: totalS, rate: RATE }];
    const schedule = poissonSchedule(phases, MIX, seededRandom(SEED));
    const jobSchedule = poissonSchedule([{ name: 'jobs', durationS: totalS, rate: JOB_RATE }], MIX, seededRandom(SEED + 2));

    const loadStart = now();
    const at = () => now() - loadStart;
    const jobs = new JobClient(origin, clientTls, criticalKey, model, at);
    const marks: { killAtMs?: number; restoreAtMs?: number; restoredAtMs?: number } = {};
    const events = (async () => {
      await sleep(BEFORE_S * 1000);
      const r = regions[killed];
      marks.killAtMs = at();
      for (const c of r.children) c.process.kill('SIGKILL');
      r.alive = false;
      console.log(`  ${(marks.killAtMs / 1000).toFixed(1)} s: SIGKILL to every process of ${killed} (2 proxies, 2 model servers, worker, Redis primary and replica); load average ${load()}`);
      await sleep(Math.max(0, (BEFORE_S + DOWN_S) * 1000 - at()));
      marks.restoreAtMs = at();
      await startRegionProcesses(world, r);
      marks.restoredAtMs = at();
      console.log(`  ${(marks.restoreAtMs / 1000).toFixed(1)} s: restoring ${killed} (same ports, Redis from its append-only file); its proxies ready at ${(marks.restoredAtMs / 1000).toFixed(1)} s`);
    })();
    const jobFeeder = (async () => {
      for (const a of jobSchedule) {
        await sleep(Math.max(0, a.atMs - at()));
        jobs.submit(a.index, a.cls, RUN_ID);
      }
    })();
    // a burst just before the kill, so that every run has jobs queued or running in the region
    // when it dies (the steady jobs take 3 s and may all be finished at that moment)
    const burst = (async () => {
      await sleep(Math.max(0, BEFORE_S * 1000 - KILL_BURST.leadMs - at()));
      for (let i = 0; i < KILL_BURST.jobs; i++) jobs.submit(jobSchedule.length + i, PRIORITY_CLASSES[i % PRIORITY_CLASSES.length], RUN_ID);
    })();
    console.log(`  playing ${schedule.length} requests (${RATE}/s, 10/20/30/40 % critical/high/medium/low, ${DEADLINE_MS / 1000} s deadline, naive retries) and ${jobSchedule.length} jobs (+ ${KILL_BURST.jobs} at once ${KILL_BURST.leadMs / 1000} s before the kill) through the accelerator ...`);
    const outcomes = await playSchedule(schedule, {
      originFor: () => origin,
      deadlineMs: DEADLINE_MS,
      retry: NAIVE_RETRY,
      random: seededRandom(SEED + 1),
      body: (a) => JSON.stringify({ model, messages: [{ role: 'user', content: `request ${a.index}` }], max_tokens: SIM.tokens, temperature: 0.7 }),
      headers: { authorization: `Bearer ${criticalKey}` },
      tls: clientTls,
    });
    await events;
    await jobFeeder;
    await burst;
    console.log(`  load done at ${(at() / 1000).toFixed(0)} s; waiting for every job to finish (at most ${DRAIN_BOUND_MS / 1000} s) ...`);
    await jobs.settle(DRAIN_BOUND_MS);
    watch.stop();
    result = summarise(outcomes, jobs.jobs, servedCounts(Object.values(regions)), marks as Required<typeof marks>, watch, killed, totalS, loadStart, synth);
  } finally {
    for (const c of [...CHILDREN.live].reverse()) await c.stop().catch(() => undefined);
    cleanupBroker();
    if (process.env.FAILOVER_KEEP_LOGS !== '1') rmSync(base, { recursive: true, force: true });
    else console.log(`logs kept in ${base}`);
  }
  write(result!);
}

function lastStatus(w: AcceleratorWatch, region: string): string | undefined {
  return [...w.transitions].reverse().find((t) => t.region === region)?.status;
}

// ---------------------------------------------------------------- figures

function summarise(
  outcomes: Outcome[],
  jobs: JobTrack[],
  served: Map<string, Array<{ at: number; region: string }>>,
  marks: { killAtMs: number; restoreAtMs: number; restoredAtMs: number },
  watch: AcceleratorWatch,
  killed: string,
  totalS: number,
  loadStart: number,
  synth: Synthesized,
): Doc {
  const epochOfLoadStart = Date.now() - (performance.now() - loadStart);
  const killS = marks.killAtMs / 1000;
  const restoreS = marks.restoreAtMs / 1000;
  // the watch's clock started before the load: shift to the load's clock
  const shift = loadStart;
  const transitions = watch.transitions.map((t) => ({ ...t, atMs: t.atMs - shift }));
  const downAt = transitions.find((t) => t.region === killed && t.status.startsWith('DOWN') && t.atMs >= marks.killAtMs)?.atMs;
  const upAgainAt = transitions.find((t) => t.region === killed && t.status === 'UP' && t.atMs >= marks.restoreAtMs)?.atMs;

  // success per arrival second and class
  const series = successPerSecond(outcomes, totalS, true);
  // recovery: from the kill to the start of the first second from which every second is >= 99 % again (until the restore)
  const window = series.filter((r) => r.t >= Math.floor(killS) && r.t < Math.floor(restoreS));
  const lastBad = [...window].reverse().find((r) => r.all !== null && r.all !== undefined && r.all < 99);
  const recoveryS = lastBad ? round(lastBad.t + 1 - killS, 1)! : 0;
  // the same without the clients' retries: from the kill to the first second from which every
  // request succeeded at its first try (the accelerator no longer sends new connections there)
  const retriedAfterKill = outcomes.filter((o) => o.atMs >= marks.killAtMs && o.atMs < marks.restoreAtMs && (o.tries > 1 || !o.ok));
  const firstTryRecoveryS = retriedAfterKill.length === 0 ? 0 : round(Math.floor(Math.max(...retriedAfterKill.map((o) => o.atMs)) / 1000) + 1 - killS, 1)!;
  const retriedByClass: Record<string, number> = {};
  for (const c of PRIORITY_CLASSES) retriedByClass[c] = retriedAfterKill.filter((o) => o.cls === c).length;
  const failedBetween: Record<string, number> = {};
  const failedDown: Record<string, number> = {};
  const failedAfterRestore: Record<string, number> = {};
  const byClass: Record<string, { requests: number; ok: number; successPct: number }> = {};
  for (const c of PRIORITY_CLASSES) {
    const os = outcomes.filter((o) => o.cls === c);
    const ok = os.filter((o) => o.ok).length;
    byClass[c] = { requests: os.length, ok, successPct: round((100 * ok) / Math.max(1, os.length), 2)! };
    failedBetween[c] = os.filter((o) => !o.ok && o.atMs >= marks.killAtMs && o.atMs < marks.killAtMs + recoveryS * 1000).length;
    failedDown[c] = os.filter((o) => !o.ok && o.atMs >= marks.killAtMs && o.atMs < marks.restoreAtMs).length;
    failedAfterRestore[c] = os.filter((o) => !o.ok && o.atMs >= marks.restoreAtMs).length;
  }
  const lastStatuses: Record<string, number> = {};
  for (const o of outcomes) if (!o.ok) lastStatuses[o.last] = (lastStatuses[o.last] ?? 0) + 1;

  // jobs
  const accepted = jobs.filter((j) => j.id !== undefined);
  const servedBefore = (j: JobTrack, ms: number) => (served.get(j.id!) ?? []).some((s) => s.at - epochOfLoadStart < ms);
  const ofKilled = accepted.filter((j) => j.home === killed);
  const pendingAtKill = ofKilled.filter((j) => j.acceptedAtMs! < marks.killAtMs && !servedBefore(j, marks.killAtMs));
  const refusedWhileDown = jobs.filter((j) => j.refusals.some((r) => r.code === 'home_region_unavailable' && r.region === killed));
  const endStates = (js: JobTrack[]) => {
    const s: Record<string, number> = {};
    for (const j of js) s[j.final ?? (j.id ? 'not finished' : 'never accepted')] = (s[j.final ?? (j.id ? 'not finished' : 'never accepted')] ?? 0) + 1;
    return s;
  };
  const runs = (j: JobTrack) => served.get(j.id!)?.length ?? 0;
  const lost = accepted.filter((j) => j.final !== 'succeeded');
  const duplicated = accepted.filter((j) => runs(j) > 1);
  const neverAccepted = jobs.filter((j) => j.id === undefined);
  // polls of the killed region's jobs, by what the client got
  // down: kill -> restore; coming back: restore -> the accelerator has it up again (a poll is
  // forwarded to the regional entry, which has it back as soon as one proxy is ready: 503 or 200
  // are both right then); back: after that
  const downWindow = (ms: number) => ms >= marks.killAtMs && ms < marks.restoreAtMs;
  const backAt = upAgainAt ?? marks.restoredAtMs;
  const pollStats = {
    whileDown: { correct503: 0, wrong: 0, noAnswer: 0, other: 0, answered200: 0 },
    comingBack: { answered503: 0, answered200: 0, other: 0 },
    afterRestore: { correct: 0, wrong: 0, noAnswer: 0 },
  };
  const wrongPolls: PollAnswer[] = [];
  for (const j of ofKilled) {
    let lastState = -1;
    const order = ['queued', 'running', 'succeeded'];
    for (const p of j.polls) {
      if (downWindow(p.atMs)) {
        if (p.status === 'error') pollStats.whileDown.noAnswer++;
        else if (p.status === 503 && p.code === 'home_region_unavailable' && p.region === killed && p.retryAfter !== undefined) pollStats.whileDown.correct503++;
        else if (p.status === 404) {
          pollStats.whileDown.wrong++;
          wrongPolls.push(p);
        } else if (p.status === 200) pollStats.whileDown.answered200++;
        else pollStats.whileDown.other++;
      } else if (p.atMs >= marks.restoreAtMs && p.atMs < backAt) {
        if (p.status === 200) pollStats.comingBack.answered200++;
        else if (p.status === 503 && p.code === 'home_region_unavailable') pollStats.comingBack.answered503++;
        else pollStats.comingBack.other++;
      } else if (p.atMs >= backAt) {
        if (p.status === 'error') pollStats.afterRestore.noAnswer++;
        else if (p.status === 200 && order.indexOf(p.jobStatus ?? '') >= lastState) {
          pollStats.afterRestore.correct++;
          lastState = order.indexOf(p.jobStatus ?? '');
        } else {
          pollStats.afterRestore.wrong++;
          wrongPolls.push(p);
        }
      }
    }
  }
  // polls of the other regions' jobs: must never see an error code other than transient ones
  const otherPolls = accepted.filter((j) => j.home !== killed).flatMap((j) => j.polls);
  const criticalPct = byClass.critical.successPct;
  const targets = {
    'recovery s': { measured: recoveryS, target: `<= ${TARGETS.recoveryS}`, met: recoveryS <= TARGETS.recoveryS },
    'jobs lost': { measured: lost.length + neverAccepted.length, target: '0', met: lost.length + neverAccepted.length === 0 },
    'jobs run twice': { measured: duplicated.length, target: '0', met: duplicated.length === 0 },
    'critical ok % (whole run)': { measured: criticalPct, target: `>= ${TARGETS.criticalPct}`, met: criticalPct >= TARGETS.criticalPct },
  };
  return {
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadAverage: loadavg() },
    killed,
    timeline: { beforeS: BEFORE_S, downS: DOWN_S, afterS: AFTER_S, killS: round(killS, 1), restoreS: round(restoreS, 1), proxiesBackS: round(marks.restoredAtMs / 1000, 1) },
    healthChecks: { acceleratorFromNlbTargetGroup: synth.nlb, regionalEntryFromAlbTargetGroup: synth.alb },
    accelerator: {
      markedDownAfterKillS: downAt === undefined ? null : round((downAt - marks.killAtMs) / 1000, 1),
      markedUpAfterRestoreS: upAgainAt === undefined ? null : round((upAgainAt - marks.restoreAtMs) / 1000, 1),
      transitions: transitions.map((t) => ({ atS: round(t.atMs / 1000, 1), region: t.region, status: t.status })),
    },
    load: { rate: RATE, jobRate: JOB_RATE, mix: MIX, deadlineMs: DEADLINE_MS, seed: SEED },
    requests: outcomes.length,
    classes: byClass,
    recoveryS,
    firstTryRecoveryS,
    retriedOrFailedWhileDown: retriedByClass,
    failedBetweenKillAndRecovery: failedBetween,
    failedWhileDown: failedDown,
    failedAfterRestore,
    lastStatuses,
    jobs: {
      submitted: jobs.length,
      accepted: accepted.length,
      neverAccepted: neverAccepted.length,
      homeInKilledRegion: ofKilled.length,
      pendingInKilledRegionAtKill: { count: pendingAtKill.length, endStates: endStates(pendingAtKill), runsPerJob: countBy(pendingAtKill.map(runs)) },
      refusedWhileRegistrarDown: { count: refusedWhileDown.length, endStates: endStates(refusedWhileDown) },
      endStates: endStates(jobs),
      lost: lost.map((j) => ({ id: j.id, final: j.final ?? null })),
      runTwice: duplicated.map((j) => ({ id: j.id, runs: runs(j) })),
      runsPerJob: countBy(accepted.map(runs)),
    },
    pollsOfKilledRegionJobs: pollStats,
    wrongPolls: wrongPolls.slice(0, 10),
    pollsOfOtherJobs: countBy(otherPolls.map((p) => `${p.status}${p.code ? ` ${p.code}` : ''}`)),
    targets,
    series,
  };
}

function countBy(xs: Array<string | number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[String(x)] = (out[String(x)] ?? 0) + 1;
  return out;
}

const COLORS: Record<PriorityClass, Rgb> = { critical: [200, 30, 45], high: [235, 140, 0], medium: [40, 110, 200], low: [110, 110, 110] };

function write(r: Doc): void {
  const pad = (s: unknown, n: number) => String(s ?? '-').padStart(n);
  console.log(`\n### failover of ${r.killed}: kill at ${r.timeline.killS} s, restore at ${r.timeline.restoreS} s (its proxies ready at ${r.timeline.proxiesBackS} s)`);
  console.log(`accelerator stand-in: ${r.killed} marked down ${r.accelerator.markedDownAfterKillS} s after the kill, up again ${r.accelerator.markedUpAfterRestoreS} s after the restore began`);
  console.log(`client-observed recovery (kill -> first second from which every second has >= 99 % success): ${r.recoveryS} s`);
  console.log(
    `without the clients' retries (kill -> first second from which every request succeeded at its first try): ${r.firstTryRecoveryS} s; requests that needed a retry or failed while it was down: ${JSON.stringify(r.retriedOrFailedWhileDown)}`,
  );
  console.log(`${'class'.padEnd(9)}${pad('reqs', 6)}${pad('ok %', 8)}${pad('failed kill->recovered', 24)}${pad('failed while down', 19)}${pad('failed after restore', 22)}`);
  for (const c of PRIORITY_CLASSES) {
    console.log(`${c.padEnd(9)}${pad(r.classes[c].requests, 6)}${pad(r.classes[c].successPct, 8)}${pad(r.failedBetweenKillAndRecovery[c], 24)}${pad(r.failedWhileDown[c], 19)}${pad(r.failedAfterRestore[c], 22)}`);
  }
  console.log(`failures by last status: ${JSON.stringify(r.lastStatuses)}`);
  const j = r.jobs;
  console.log(
    `jobs: ${j.submitted} submitted, ${j.accepted} accepted, end states ${JSON.stringify(j.endStates)}; runs per job (completed model calls) ${JSON.stringify(j.runsPerJob)}`,
  );
  console.log(
    `  in ${r.killed}: ${j.homeInKilledRegion} jobs; ${j.pendingInKilledRegionAtKill.count} queued or running at the kill -> ${JSON.stringify(j.pendingInKilledRegionAtKill.endStates)}, runs ${JSON.stringify(j.pendingInKilledRegionAtKill.runsPerJob)}; ` +
      `${j.refusedWhileRegistrarDown.count} keyed submissions refused with 503 home_region_unavailable while it was down -> ${JSON.stringify(j.refusedWhileRegistrarDown.endStates)}`,
  );
  const p = r.pollsOfKilledRegionJobs;
  console.log(
    `  polls of its jobs while down: ${p.whileDown.correct503} answered 503 home_region_unavailable naming ${r.killed} with Retry-After, ${p.whileDown.noAnswer} unanswered (connection to the dead region before the accelerator noticed), ${p.whileDown.wrong} wrong (404), ${p.whileDown.other} other, ${p.whileDown.answered200} answered 200`,
  );
  console.log(`  polls while it came back (restore -> accelerator up): ${p.comingBack.answered200} answered 200, ${p.comingBack.answered503} answered 503 home_region_unavailable, ${p.comingBack.other} other`);
  console.log(`  polls after it was back: ${p.afterRestore.correct} correct (200, state never going back), ${p.afterRestore.wrong} wrong, ${p.afterRestore.noAnswer} unanswered`);
  console.log(`  polls of the other regions' jobs: ${JSON.stringify(r.pollsOfOtherJobs)}`);
  console.log(`targets: ${Object.entries(r.targets as Record<string, { measured: unknown; target: string; met: boolean }>).map(([k, v]) => `${k} ${v.measured} (${v.target}) ${v.met ? 'met' : 'NOT met'}`).join('; ')}`);

  mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(RESULTS, `failover-${stamp}.json`), JSON.stringify(r, null, 2));
  writeFileSync(join(RESULTS, 'failover-latest.json'), JSON.stringify(r, null, 2));
  const totalS = r.timeline.beforeS + r.timeline.downS + r.timeline.afterS;
  const png = renderPanels(
    [
      {
        title: `${r.killed} killed at ${r.timeline.killS} s, restored at ${r.timeline.restoreS} s (shaded): recovery ${r.recoveryS} s, critical ${r.classes.critical.successPct}% over the run`,
        band: [r.timeline.killS, r.timeline.restoreS] as const,
        series: [...PRIORITY_CLASSES].reverse().map((c) => ({ label: c, color: COLORS[c], points: (r.series as Doc[]).map((row) => [row.t + 0.5, row[c] ?? null] as const) })),
      },
    ],
    { title: 'Failover rehearsal: success within 10 s per class, by arrival second', xMax: totalS, xLabel: 'seconds since the load started', yLabel: 'success %' },
  );
  writeFileSync(join(RESULTS, `failover-${stamp}.png`), png);
  writeFileSync(join(RESULTS, 'failover-latest.png'), png);
  console.log(`\nwrote bench/results/failover-${stamp}.json and .png; load average ${load()}`);
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  CHILDREN.killAll();
  cleanupBroker();
  process.exit(1);
});
