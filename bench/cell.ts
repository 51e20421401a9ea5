import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { request } from 'undici';
import { parse } from 'yaml';
import { seededRandom } from '../runtime/common/clock';
import { PRIORITY_CLASSES, type PriorityClass } from '../contract/priority';
import { CROSS_REGION_KEY_NAME, RUNTIME_SECRET_ENV } from '../contract/secrets';
import { ARTIFACT_MANIFEST_FILE, DEFAULT_ARTIFACT_SUBDIR } from '../constructs/artifacts/runtime-artifacts';
import { HOSTS_OVERRIDE_ENV } from '../runtime/common/upstream/resolver';
import { waitForPort } from '../tools/local/ports';
import { quantile } from './lib/loadgen';
import { renderPanels, type Rgb } from './lib/png-chart';
import { ChildGroup, type Child } from './lib/processes';
import { NAIVE_RETRY, playSchedule, poissonSchedule, round, successPerSecond, type Arrival, type Outcome, type Phase } from './lib/surge-client';

/**
 * Cell benchmark: `npm run bench:cell`.
 *
 * Runs the proxy config the prod synth renders for one region (read from the workloads stack's
 * ConfigMap in cdktf.out), as three replicas (dist/runtime/proxy/main.js) behind haproxy in TCP
 * mode, in front of simulated model-server "pods" on their own loopback addresses with the
 * Service's port (the config's `discover` name is mapped to them through SURGEGUARD_HOSTS_FILE,
 * like the headless Service's DNS answer). Five scenarios, each a 3x surge with the
 * 10/20/30/40 % class mix and a 10 s deadline, each also played through nginx least_conn in
 * front of the same simulators (the baseline, same run, same arrival schedule).
 *
 * The Service's records change when pods go or come, and the proxies read them through the
 * cluster DNS's cache: a change reaches the hosts file one rendered CoreDNS `ttl` later (the
 * worst case; read from the `coredns` add-on's Corefile in `prod-<region>`).
 *
 * What differs from the pods, and why (everything else is the rendered config as is):
 * - slots per simulator: the synth's maxConcurrentSequences / SLOT_SCALE (256 / 32 = 8), and the
 *   config's `slots` scaled the same way: 4 x 256 slots at sub-second answers is ~2,000 req/s
 *   of capacity, 6,000 req/s at 3x, which 2 shared cores cannot generate;
 * - the listen address of each replica (`server.host`: its pod IP, a loopback address);
 * - Redis: the shared local instance (plain, single node: `tls`, `cluster` and the AUTH token
 *   off) under a unique key prefix; RabbitMQ: the shared broker through SURGEGUARD_AMQP_URL with
 *   a unique topology prefix;
 * - the API keys' hashes: the env's hashes belong to keys we do not have; the benchmark makes
 *   its own key for each configured name and tier and puts its hash in place.
 *
 * Env knobs: CELL_PHASES="warm,surge,cool" seconds (default 5,15,5), CELL_SCENARIOS (comma list
 * of queue,reject,kill,add,spill), CELL_SETUPS (surgeguard,nginx), CELL_REGION (us-east-1),
 * CELL_SYNTH=0 to reuse an existing cdktf.out, CELL_SEED, CELL_PROBE_MS (pods-vs-permits probe period),
 * CELL_SHARE_BY=demand (replicas share by demand: a comparison, not the rendered config).
 */

const ROOT = resolve(__dirname, '..', '..');
const RESULTS = join(ROOT, 'bench', 'results');
const REGION = process.env.CELL_REGION ?? 'us-east-1';
const SLOT_SCALE = 32;
const SIM = { count: 4, tokens: 30, tokensPerSecond: 40 };
const SERVICE_S = SIM.tokens / SIM.tokensPerSecond;
const SURGE_FACTOR = 3;
const BASE_SHARE = 0.55;
const DEADLINE_MS = 10_000;
const EVENT_AFTER_S = 5;
const MIX: Record<PriorityClass, number> = { critical: 0.1, high: 0.2, medium: 0.3, low: 0.4 };
const [WARM_S, SURGE_S, COOL_S] = (process.env.CELL_PHASES ?? '5,15,5').split(',').map(Number);
const SEED = Number(process.env.CELL_SEED ?? 42);
const SCENARIOS = (process.env.CELL_SCENARIOS ?? 'queue,reject,kill,add,spill').split(',') as ScenarioName[];
const SETUPS = (process.env.CELL_SETUPS ?? 'surgeguard,nginx').split(',') as SetupName[];
const REPLICAS = 3;
/** Period of the pods-vs-permits probe (it reads the replicas' and pods' /metrics: a little load of its own). */
const PROBE_MS = Number(process.env.CELL_PROBE_MS ?? 250);
/** Diagnosis: the replicas' access logs on and every request's tries kept in the logs directory (with CELL_KEEP_LOGS=1). */
const ACCESS_LOG = process.env.CELL_ACCESS_LOG === '1';
/**
 * Scenarios run with the second region as the deployed route has it (the other regions reachable:
 * a saturated cell spills to them). `spill` always has it. Goodput is then printed twice: of the
 * local pods (answers they gave / local capacity alive) and of all pods (every answer / the
 * capacity alive in both regions). CELL_REMOTE=spill runs kill and add with the local region alone.
 */
const REMOTE_SCENARIOS = new Set(['spill', ...(process.env.CELL_REMOTE ?? 'kill,add').split(',')]);
/**
 * CELL_SHARE_BY=demand: the one setting changed from the rendered config, for comparison only:
 * the replicas share the local pods by demand in class order (`admission.defaults.replicas.shareBy`,
 * what a single-region environment would set; the stacks render the default, `equal`).
 */
const SHARE_BY = process.env.CELL_SHARE_BY;
/** The model the simulators serve: the rendered route's (set once the config is read). */
const SERVED_MODEL = { name: 'sim-model' };

type ScenarioName = 'queue' | 'reject' | 'kill' | 'add' | 'spill';
type SetupName = 'surgeguard' | 'nginx';

const SCENARIO_TEXT: Record<ScenarioName, string> = {
  queue: 'upstreams queue when full',
  reject: 'upstreams answer 503 at once when full',
  kill: `half the model servers killed ${EVENT_AFTER_S} s into the surge`,
  add: `starts with half the model servers, the other half added ${EVENT_AFTER_S} s into the surge`,
  spill: 'every local model server killed 2 s into the surge: spill to the second region',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the rendered config

/** A parsed YAML/JSON document (the proxy checks the config with its own schema when it starts). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

interface Rendered {
  readonly config: Doc;
  readonly modelServerHost: string;
  readonly modelServerPort: number;
  readonly slots: number;
  readonly model: string;
}

/** CoreDNS's `kubernetes` plugin TTL when a Corefile sets none (coredns.io/plugins/kubernetes). */
const COREDNS_DEFAULT_TTL_S = 5;

/**
 * The TTL of the cluster DNS's Service answers as the prod synth renders it: the `ttl` of the
 * `kubernetes` block of the `coredns` add-on's Corefile in `prod-<region>` (CoreDNS's default
 * when the add-on has no Corefile or the block no `ttl`).
 */
function renderedServiceDnsTtlS(region: string): number {
  const file = join(ROOT, 'cdktf.out', 'stacks', `prod-${region}`, 'cdk.tf.json');
  const tf = JSON.parse(readFileSync(file, 'utf8')) as { resource: Record<string, Record<string, Doc>> };
  const coredns = Object.values(tf.resource.aws_eks_addon ?? {}).find((a) => a.addon_name === 'coredns');
  if (!coredns) throw new Error(`${file}: no coredns add-on`);
  const corefile = coredns.configuration_values ? (JSON.parse(coredns.configuration_values as string) as { corefile?: string }).corefile : undefined;
  const block = corefile ? /kubernetes [^{]*\{([^}]*)\}/.exec(corefile)?.[1] : undefined;
  const ttl = block ? /^\s*ttl (\d+)\s*$/m.exec(block)?.[1] : undefined;
  return ttl === undefined ? COREDNS_DEFAULT_TTL_S : Number(ttl);
}

/** The proxy config in the ConfigMap of `prod-<region>-workloads`. */
function renderedProxyConfig(region: string): Rendered {
  const file = join(ROOT, 'cdktf.out', 'stacks', `prod-${region}-workloads`, 'cdk.tf.json');
  const tf = JSON.parse(readFileSync(file, 'utf8')) as { resource: Record<string, Record<string, Doc>> };
  const maps = Object.values(tf.resource.kubernetes_config_map_v1 ?? {});
  const found = maps.map((m) => m.data?.['proxy.yaml'] as string | undefined).find((d) => d !== undefined);
  if (!found) throw new Error(`${file}: no ConfigMap with proxy.yaml`);
  const config = parse(found) as Doc;
  const discover = config.pools['model-servers'].discover[0] as { url: string; slots: number };
  const url = new URL(discover.url);
  return { config, modelServerHost: url.hostname, modelServerPort: Number(url.port || 80), slots: discover.slots, model: config.routes[0].model };
}

// ---------------------------------------------------------------- processes

/** Every child this run started, so a signal or a crash still stops them all. */
const CHILDREN = new ChildGroup();
const startChild = CHILDREN.start.bind(CHILDREN);

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => (CHILDREN.killAll(), process.exit(130)));

/** A loopback /24 of our own, so nothing collides with other runs on the shared machine. */
function loopbackNet(): string {
  const b = randomBytes(2);
  return `127.${20 + (b[0] % 200)}.${b[1]}`;
}


interface Sim {
  readonly address: string;
  readonly url: string;
  child: Child;
  alive: boolean;
  /** Stats read just before it was killed. */
  lastStats?: { received: number };
}

async function startSim(dir: string, address: string, port: number, slots: number, queue: number, name: string): Promise<Sim> {
  const model = SERVED_MODEL.name;
  const url = `http://${address}:${port}`;
  const child = await startChild(
    process.execPath,
    [
      join(ROOT, 'dist', 'runtime', 'simulator', 'main.js'),
      ...['--host', address, '--port', String(port), '--name', name, '--models', model, '--slots', String(slots), '--tokens', String(SIM.tokens)],
      ...['--tps', String(SIM.tokensPerSecond), '--queue', String(queue), '--queue-timeout-ms', '60000'],
    ],
    { probeUrl: `${url}/health`, logFile: join(dir, `${name}.log`) },
  );
  return { address, url, child, alive: true };
}

async function killSim(s: Sim): Promise<void> {
  // a starved simulator may drop the stats request: count what it had received as unknown (0), not crash the run
  s.lastStats = await simStats(s).catch((err: Error) => (console.log(`  (stats of ${s.url} before the kill not read: ${err.message}; its attempts are not counted)`), { received: 0 }));
  s.alive = false;
  s.child.process.kill('SIGKILL');
  await s.child.stop();
}

async function simStats(s: Sim): Promise<{ received: number }> {
  if (!s.alive) return s.lastStats ?? { received: 0 };
  const r = (await (await request(`${s.url}/sim/stats`)).body.json()) as { received: number };
  return { received: r.received };
}

/** One region: its hosts file, its model servers, three proxy replicas, haproxy in front. */
interface Region {
  readonly sims: Sim[];
  readonly proxies: Child[];
  readonly proxyOrigins: string[];
  readonly balancer: Child;
  readonly origin: string;
  readonly hostsFile: string;
  readonly hosts: Record<string, string[]>;
}

function writeHosts(r: Pick<Region, 'hostsFile' | 'hosts'>): void {
  writeFileSync(`${r.hostsFile}.tmp`, JSON.stringify(r.hosts));
  execFileSync('mv', [`${r.hostsFile}.tmp`, r.hostsFile]);
}

/** TTL of the cluster DNS's Service answers (from the rendered Corefile, set in `main`). */
const SERVICE_DNS = { ttlMs: COREDNS_DEFAULT_TTL_S * 1000 };

/**
 * The headless Service's records change (a pod Ready, a pod gone): the proxies' re-resolutions
 * read them through the cluster DNS's cache, which serves the former answer for up to one TTL.
 * The benchmark takes the worst case, the whole TTL.
 */
async function changeServiceRecords(r: Pick<Region, 'hostsFile' | 'hosts'>, name: string, addresses: string[]): Promise<void> {
  await sleep(SERVICE_DNS.ttlMs);
  r.hosts[name] = addresses;
  writeHosts(r);
}

interface RegionOptions {
  readonly name: string;
  readonly rendered: Rendered;
  readonly net: string;
  readonly simSlots: number;
  readonly queue: number;
  /** Model servers started now; `extraSims` more are started later by the scenario. */
  readonly simsAtStart: number;
  readonly keys: Record<string, string>;
  readonly keyPrefix: string;
  /** Other regions' endpoint names mapped to local addresses (the spill target). */
  readonly endpoints: Record<string, string[]>;
  /** haproxy terminates TLS with this pem on `listen` (a regional endpoint), else plain on a free port. */
  readonly tls?: { pem: string; address: string; port: number };
  readonly caFile?: string;
}

async function startRegion(dir: string, o: RegionOptions, started: Child[]): Promise<Region> {
  // every other region's endpoint not stood for by a local region is unreachable (refused at
  // once on an address nothing listens on): no name of the rendered config goes to real DNS
  const hosts: Record<string, string[]> = {};
  for (const h of regionEndpoints(o.rendered)) hosts[h] = o.endpoints[h] ?? [`${o.net}.250`];
  const sims: Sim[] = [];
  for (let i = 0; i < o.simsAtStart; i++) {
    sims.push(await startSim(dir, `${o.net}.${10 + i}`, o.rendered.modelServerPort, o.simSlots, o.queue, `${o.name}-gpu-${i}`));
    started.push(sims[i].child);
  }
  hosts[o.rendered.modelServerHost] = sims.map((s) => s.address);
  const hostsFile = join(dir, `${o.name}-hosts.json`);
  writeHosts({ hostsFile, hosts });
  const proxies: Child[] = [];
  const proxyOrigins: string[] = [];
  for (let k = 0; k < REPLICAS; k++) {
    const address = `${o.net}.${100 + k}`;
    const c = structuredClone(o.rendered.config);
    c.server = { ...c.server, host: address };
    c.pools['model-servers'].discover = c.pools['model-servers'].discover.map((d: { slots: number }) => ({ ...d, slots: o.simSlots }));
    c.redis = { ...c.redis, host: '127.0.0.1', port: 6379, tls: false, cluster: false, password: undefined, keyPrefix: o.keyPrefix };
    c.jobs = { ...c.jobs, amqp: { ...c.jobs.amqp, topologyPrefix: o.keyPrefix.replace(/:$/, '').replace(/:/g, '.') } };
    if (SHARE_BY) c.admission = { ...c.admission, defaults: { ...c.admission?.defaults, replicas: { ...c.admission?.defaults?.replicas, shareBy: SHARE_BY } } };
    // a key the config reads from a variable (the cross-region key) keeps its `key`: its value goes into that variable below
    if (c.auth !== 'none') c.auth = { ...c.auth, keys: c.auth.keys.map((k2: { name: string; key?: unknown }) => (k2.key ? k2 : { ...k2, sha256: createHash('sha256').update(o.keys[k2.name]).digest('hex') })) };
    // CELL_ACCESS_LOG=1 (a diagnosis run: it costs the shared CPU): every request's pool, upstream, status and attempts
    c.logging = { ...c.logging, accessLog: ACCESS_LOG, level: ACCESS_LOG ? 'info' : 'warn' };
    const file = join(dir, `${o.name}-proxy-${k}.json`);
    writeFileSync(file, JSON.stringify(c, null, 2));
    const port = c.server.port ?? 8080;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      [HOSTS_OVERRIDE_ENV]: hostsFile,
      [RUNTIME_SECRET_ENV.amqpUrl]: 'amqp://guest:guest@127.0.0.1:5672',
      [RUNTIME_SECRET_ENV.redisAuthToken]: '',
      ...(o.caFile ? { NODE_EXTRA_CA_CERTS: o.caFile } : {}),
      // the keys the rendered config names by variable (as the workloads' Secret does): the same
      // cross-region key in every region, which its region pools send and its auth accepts
      ...Object.fromEntries((c.auth === 'none' ? [] : (c.auth.keys as { name: string; key?: { fromEnv: string } }[])).filter((k2) => k2.key).map((k2) => [k2.key!.fromEnv, o.keys[k2.name]])),
    };
    proxies.push(
      await startChild(process.execPath, [join(ROOT, 'dist', 'runtime', 'proxy', 'main.js'), '--config', file], {
        probeUrl: `http://${address}:${port}/readyz`,
        logFile: join(dir, `${o.name}-proxy-${k}.log`),
        env,
        timeoutMs: 30_000,
      }),
    );
    started.push(proxies[k]);
    proxyOrigins.push(`http://${address}:${port}`);
  }
  const listen = o.tls ? { address: o.tls.address, port: o.tls.port } : { address: `${o.net}.1`, port: 8080 };
  const cfg = `global
  maxconn 4000
defaults
  mode tcp
  timeout connect 2s
  timeout client 120s
  timeout server 120s
frontend fe
  bind ${listen.address}:${listen.port}${o.tls ? ` ssl crt ${o.tls.pem}` : ''}
  default_backend proxies
backend proxies
  balance leastconn
${proxyOrigins.map((u, k) => `  server p${k} ${u.replace('http://', '')} check inter 1s`).join('\n')}
`;
  const cfgFile = join(dir, `${o.name}-haproxy.cfg`);
  writeFileSync(cfgFile, cfg);
  const balancer = await startChild('haproxy', ['-db', '-f', cfgFile], { readyOutput: () => true, logFile: join(dir, `${o.name}-haproxy.log`) });
  started.push(balancer);
  await waitForPort(listen.address, listen.port, 15_000);
  return { sims, proxies, proxyOrigins, balancer, origin: `${o.tls ? 'https' : 'http'}://${listen.address}:${listen.port}`, hostsFile, hosts };
}

async function startNginx(dir: string, name: string, address: string, sims: Sim[], backups: Sim[]): Promise<Child> {
  const d = join(dir, `nginx-${name}`);
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(d, t), { recursive: true });
  const conf = `worker_processes 1;
daemon off;
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${d}/client_body;
  proxy_temp_path ${d}/proxy;
  fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi;
  scgi_temp_path ${d}/scgi;
  upstream sims {
    least_conn;
${sims.map((s) => `    server ${s.url.replace('http://', '')};`).join('\n')}
${backups.map((s) => `    server ${s.url.replace('http://', '')} backup;`).join('\n')}
    keepalive 128;
  }
  server {
    listen ${address}:8080;
    location / {
      proxy_pass http://sims;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 120s;
    }
  }
}
`;
  writeFileSync(join(d, 'nginx.conf'), conf);
  const child = await startChild('nginx', ['-e', join(d, 'error.log'), '-p', d, '-c', join(d, 'nginx.conf')], { readyOutput: () => true, logFile: join(d, 'out.log') });
  await waitForPort(address, 8080, 15_000);
  return child;
}

function selfSignedPem(dir: string, name: string): { pem: string; ca: string } {
  const key = join(dir, 'tls.key');
  const crt = join(dir, 'tls.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', key, '-out', crt], {
    stdio: 'ignore',
  });
  const pem = join(dir, 'tls.pem');
  writeFileSync(pem, readFileSync(crt, 'utf8') + readFileSync(key, 'utf8'));
  return { pem, ca: crt };
}

// ---------------------------------------------------------------- one run

interface RunResult {
  readonly scenario: ScenarioName;
  readonly setup: SetupName;
  readonly classes: Record<PriorityClass, { requests: number; successPct: number; p50Ms: number; p99Ms: number; surgeSuccessPct: number; surgeP99Ms: number; surgeRetriedPct: number }>;
  readonly requests: number;
  readonly upstreamAttemptsPerRequest: number;
  /** Over every pod alive (both regions when the second one runs); `local`: the local pods' answers over their capacity. */
  readonly goodput: { perSecond: number; aliveCapacityPerSecond: number; ofAlivePct: number; local?: { perSecond: number; aliveCapacityPerSecond: number; ofAlivePct: number } };
  readonly lastStatuses: Record<string, number>;
  readonly series: Array<{ t: number } & Partial<Record<PriorityClass, number | null>>>;
}

async function runOne(scenario: ScenarioName, setup: SetupName, rendered: Rendered, remote: Rendered | undefined, phases: Phase[], schedule: Arrival[], keys: Record<string, string>, dir: string): Promise<RunResult> {
  const simSlots = Math.max(1, Math.round(rendered.slots / SLOT_SCALE));
  const perSim = simSlots / SERVICE_S;
  const queue = scenario === 'reject' ? 0 : 256;
  const net = loopbackNet();
  const id = `${scenario}-${setup}-${randomBytes(3).toString('hex')}`;
  const started: Child[] = [];
  const allSims: Sim[] = [];
  /** Alive model servers over time (the local ones and, for spill, the remote ones). */
  const aliveLog: Array<{ atMs: number; alive: number; local: number }> = [];
  try {
    let remoteRegion: Region | undefined;
    let remoteSims: Sim[] = [];
    let tls: { pem: string; ca: string } | undefined;
    const endpoints: Record<string, string[]> = {};
    if (REMOTE_SCENARIOS.has(scenario) && remote) {
      const remoteName = Object.values(rendered.config.pools as Record<string, { upstreams?: { url: string; region: string }[] }>).flatMap((p) => p.upstreams ?? [])[0];
      const endpoint = new URL(remoteName.url);
      const rnet = loopbackNet();
      if (setup === 'surgeguard') {
        tls = selfSignedPem(dir, endpoint.hostname);
        remoteRegion = await startRegion(dir, {
          name: `${id}-r2`,
          rendered: remote,
          net: rnet,
          simSlots,
          queue,
          simsAtStart: SIM.count,
          keys,
          keyPrefix: `bench-cell:${id}:r2:`,
          endpoints: {},
          tls: { pem: tls.pem, address: `${rnet}.1`, port: Number(endpoint.port || 443) },
        }, started);
        remoteSims = remoteRegion.sims;
        endpoints[endpoint.hostname] = [`${rnet}.1`];
      } else {
        for (let i = 0; i < SIM.count; i++) {
          remoteSims.push(await startSim(dir, `${rnet}.${10 + i}`, rendered.modelServerPort, simSlots, queue, `${id}-r2-gpu-${i}`));
          started.push(remoteSims[i].child);
        }
      }
      allSims.push(...remoteSims);
    }
    const atStart = scenario === 'add' ? SIM.count / 2 : SIM.count;
    let origin: string;
    let local: Sim[];
    let proxyOrigins: string[] = [];
    let hostsRegion: Pick<Region, 'hostsFile' | 'hosts'> | undefined;
    if (setup === 'surgeguard') {
      const region = await startRegion(dir, {
        name: id,
        rendered,
        net,
        simSlots,
        queue,
        simsAtStart: atStart,
        keys,
        keyPrefix: `bench-cell:${id}:`,
        endpoints,
        caFile: tls?.ca,
      }, started);
      origin = region.origin;
      local = region.sims;
      proxyOrigins = region.proxyOrigins;
      hostsRegion = region;
    } else {
      local = [];
      for (let i = 0; i < atStart; i++) {
        local.push(await startSim(dir, `${net}.${10 + i}`, rendered.modelServerPort, simSlots, queue, `${id}-gpu-${i}`));
        started.push(local[i].child);
      }
      // nginx is configured with every server the scenario will ever have (it cannot discover)
      const planned = scenario === 'add' ? [...local, ...[0, 1].map((i) => ({ url: `http://${net}.${10 + atStart + i}:${rendered.modelServerPort}` }) as Sim)] : local;
      started.push(await startNginx(dir, id, `${net}.1`, planned, remoteSims));
      origin = `http://${net}.1:8080`;
    }
    allSims.push(...local);
    const aliveNow = () => allSims.filter((s) => s.alive).length;
    const localAlive = () => local.filter((s) => s.alive).length;
    const clientRandom = seededRandom(SEED + 1);
    const surgeStartMs = phases[0].durationS * 1000;
    const t0 = performance.now();
    aliveLog.push({ atMs: 0, alive: aliveNow(), local: localAlive() });
    const event = (async () => {
      const at = surgeStartMs + (scenario === 'spill' ? 2_000 : EVENT_AFTER_S * 1000);
      if (scenario === 'queue' || scenario === 'reject') return;
      await sleep(Math.max(0, at - (performance.now() - t0)));
      let records: string[] | undefined;
      if (scenario === 'kill' || scenario === 'spill') {
        const victims = scenario === 'kill' ? local.slice(local.length / 2) : local;
        // the pods go: their processes die; the headless Service's records follow (below)
        await Promise.all(victims.map((s) => killSim(s)));
        records = local.filter((s) => !victims.includes(s)).map((s) => s.address);
      } else if (scenario === 'add') {
        for (let i = 0; i < SIM.count - atStart; i++) {
          const s = await startSim(dir, `${net}.${10 + atStart + i}`, rendered.modelServerPort, simSlots, queue, `${id}-gpu-${atStart + i}`);
          local.push(s);
          allSims.push(s);
          started.push(s.child);
        }
        records = local.map((s) => s.address);
      }
      // the capacity alive changes now (a pod that answers is Ready); the proxies see it in DNS later
      aliveLog.push({ atMs: performance.now() - t0, alive: aliveNow(), local: localAlive() });
      if (hostsRegion && records) await changeServiceRecords(hostsRegion, rendered.modelServerHost, records);
    })();
    console.log(`  ${scenario} / ${setup}: playing ${schedule.length} requests ...`);
    const trace = proxyOrigins.length > 0 ? new AdmissionTrace(proxyOrigins) : undefined;
    trace?.start();
    // the spill: the spilling side's pool of the second region, and the second region's own model servers
    const spillPool = remoteRegion ? Object.keys(rendered.config.pools as Record<string, unknown>).find((n) => n !== 'model-servers') : undefined;
    const spillTrace = remoteRegion && spillPool ? new AdmissionTrace(proxyOrigins, spillPool) : undefined;
    const remoteTrace = remoteRegion ? new AdmissionTrace(remoteRegion.proxyOrigins) : undefined;
    spillTrace?.start();
    remoteTrace?.start();
    const probe = proxyOrigins.length > 0 ? new PodProbe(proxyOrigins, () => local.filter((s) => s.alive), simSlots, t0, surgeStartMs, surgeStartMs + phases[1].durationS * 1000) : undefined;
    probe?.start();
    // the client measures latencies on its own event loop: a delay there is added to every figure
    const clientLag = monitorEventLoopDelay({ resolution: 10 });
    clientLag.enable();
    const outcomes = await playSchedule(schedule, {
      originFor: () => origin,
      deadlineMs: DEADLINE_MS,
      retry: NAIVE_RETRY,
      random: clientRandom,
      body: (a) => JSON.stringify({ model: rendered.model, messages: [{ role: 'user', content: `request ${a.index}` }], max_tokens: SIM.tokens, temperature: 0.7 }),
      headers: { authorization: `Bearer ${keys[criticalKeyName(rendered)]}` },
    });
    await event;
    spillTrace?.stop();
    remoteTrace?.stop();
    if (spillTrace) console.log(`  admission of the spilling side's ${spillPool} pool, every 2 s (as above): ${spillTrace.line()}; sheds ${JSON.stringify(spillTrace.sheds)}`);
    if (remoteTrace) console.log(`  admission of the second region's model-servers pool, every 2 s (as above): ${remoteTrace.line()}; changes ${JSON.stringify(remoteTrace.changes)}; sheds ${JSON.stringify(remoteTrace.sheds)}`);
    if (ACCESS_LOG) writeFileSync(join(dir, `${id}-outcomes.json`), JSON.stringify({ startedAt: new Date(Date.now() - (performance.now() - t0)).toISOString(), surgeStartMs, alive: aliveLog, outcomes }));
    trace?.stop();
    probe?.stop();
    clientLag.disable();
    if (trace) console.log(`  admission, every 2 s (limit/in flight/queued of the model-servers pool, summed over replicas; shed total; worst replica event-loop delay ms): ${trace.line()}`);
    if (trace) console.log(`  admission limit changes by cause (model-servers, summed over replicas): ${JSON.stringify(trace.changes)}`);
    if (probe) console.log(`  pods vs permits during the surge: ${probe.summary()}`);
    if (trace) console.log(`  sheds by pool/class/reason: ${JSON.stringify(trace.sheds)}; retry budget refusals ${trace.budgetExhausted}; last-resort attempts ${trace.lastResort}`);
    console.log(`  load generator's own event-loop delay: p99 ${Math.round(clientLag.percentile(99) / 1e6)} ms, max ${Math.round(clientLag.max / 1e6)} ms`);
    let received = 0;
    for (const s of allSims) received += (await simStats(s)).received;
    return summarise(scenario, setup, outcomes, received, phases, aliveLog, perSim, remoteSims.length > 0);
  } finally {
    for (const c of started.reverse()) await c.stop().catch(() => undefined);
  }
}

/** Host names of the other regions' endpoints in a rendered config. */
function regionEndpoints(r: Rendered): string[] {
  return Object.values(r.config.pools as Record<string, { upstreams?: { url: string }[] }>).flatMap((p) => (p.upstreams ?? []).map((u) => new URL(u.url).hostname));
}

/** Samples the replicas' admission gauges for the model-servers pool. */
class AdmissionTrace {
  private readonly samples: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly origins: readonly string[],
    private readonly poolName = 'model-servers',
  ) {}
  start(): void {
    this.timer = setInterval(() => void this.sample(), 2_000);
  }
  stop(): void {
    clearInterval(this.timer);
  }
  /** Limit changes of the model-servers pool by cause, summed over the replicas (last sample). */
  readonly changes: Record<string, number> = {};
  /** Sheds by pool/class/reason, summed over the replicas (last sample). */
  sheds: Record<string, number> = {};
  /** Retry-budget refusals and last-resort attempts, summed over the replicas (last sample). */
  budgetExhausted = 0;
  lastResort = 0;
  line(): string {
    return this.samples.join(' ');
  }
  private async sample(): Promise<void> {
    try {
      const texts = await Promise.all(this.origins.map(async (o) => (await request(`${o}/metrics`, { headersTimeout: 1_500, bodyTimeout: 1_500 })).body.text()));
      const sum = (re: RegExp) => texts.reduce((n, t) => n + [...t.matchAll(re)].reduce((m, x) => m + Number(x[1]), 0), 0);
      const pool = `pool="${this.poolName}"`;
      const limit = sum(new RegExp(`^surgeguard_proxy_concurrency_limit\\{[^}]*${pool}[^}]*\\} (\\S+)$`, 'gm'));
      const inflight = sum(new RegExp(`^surgeguard_proxy_admitted_in_flight\\{[^}]*${pool}[^}]*\\} (\\S+)$`, 'gm'));
      const queued = sum(new RegExp(`^surgeguard_proxy_queue_depth\\{[^}]*${pool}[^}]*\\} (\\S+)$`, 'gm'));
      const shed = sum(/^surgeguard_proxy_shed_total\{[^}]*\} (\S+)$/gm);
      // the replicas' worst event-loop delay since the last scrape: a busy CPU shows here first
      const lagMs = Math.max(...texts.map((t) => Number(/^surgeguard_proxy_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(t)?.[1] ?? 0) * 1000));
      this.samples.push(`${limit}/${inflight}/${queued}/${shed}/${Math.round(lagMs)}`);
      this.sheds = {};
      for (const t of texts) {
        for (const m of t.matchAll(/^surgeguard_proxy_shed_total\{([^}]*)\} (\S+)$/gm)) {
          const label = (k: string) => new RegExp(`${k}="([^"]*)"`).exec(m[1])?.[1] ?? '?';
          const k = `${label('pool')}/${label('class')}/${label('reason')}`;
          this.sheds[k] = (this.sheds[k] ?? 0) + Number(m[2]);
        }
      }
      this.budgetExhausted = sum(/^surgeguard_proxy_retry_budget_exhausted_total\{[^}]*\} (\S+)$/gm);
      this.lastResort = sum(/^surgeguard_proxy_last_resort_attempts_total\{[^}]*\} (\S+)$/gm);
      for (const cause of ['overload', 'latency', 'saturation', 'growth']) {
        this.changes[cause] = sum(new RegExp(`^surgeguard_proxy_concurrency_limit_changes_total\\{[^}]*${pool}[^}]*cause="${cause}"[^}]*\\} (\\S+)$`, 'gm'));
      }
    } catch {
      this.samples.push('?');
    }
  }
}

/**
 * Samples, every CELL_PROBE_MS (250 ms) during the surge, what the model servers hold (vLLM running + waiting
 * from each pod's /metrics) next to the permits the replicas hold for the model-servers pool:
 * tells real over-admission (the pods hold more than the permits, or more than their slots)
 * from imbalance (a pod queues while another has a free slot). The reads of one sample are
 * concurrent, not atomic: a difference of one or two is the skew between them.
 */
class PodProbe {
  private timer: NodeJS.Timeout | undefined;
  private readonly rows: Array<{ held: number; permits: number; slots: number; allWaiting: boolean; imbalance: boolean }> = [];
  private busy = false;
  constructor(
    private readonly origins: readonly string[],
    private readonly pods: () => readonly Sim[],
    private readonly slotsPerPod: number,
    private readonly t0: number,
    private readonly fromMs: number,
    private readonly toMs: number,
  ) {}
  start(): void {
    this.timer = setInterval(() => void this.sample(), PROBE_MS);
  }
  stop(): void {
    clearInterval(this.timer);
  }
  summary(): string {
    const n = this.rows.length;
    if (n === 0) return 'no samples';
    const excess = this.rows.map((r) => r.held - r.permits).sort((a, b) => a - b);
    const over = this.rows.map((r) => r.held - r.slots).sort((a, b) => a - b);
    const pct = (k: number) => `${((100 * k) / n).toFixed(1)} %`;
    const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
    return (
      `${n} samples; pods' running+waiting minus permits: median ${q(excess, 0.5)}, p99 ${q(excess, 0.99)}, max ${excess[n - 1]}, min ${excess[0]}; ` +
      `minus the pods' slots: median ${q(over, 0.5)}, max ${over[n - 1]}; every pod waiting in ${pct(this.rows.filter((r) => r.allWaiting).length)} of samples; ` +
      `a pod waiting while another had a free slot in ${pct(this.rows.filter((r) => r.imbalance).length)}; permits < slots in ${pct(this.rows.filter((r) => r.permits < r.slots).length)}`
    );
  }
  private async sample(): Promise<void> {
    const at = performance.now() - this.t0;
    if (at < this.fromMs || at >= this.toMs || this.busy) return;
    this.busy = true;
    try {
      const pods = this.pods();
      const [figures, texts] = await Promise.all([
        Promise.all(pods.map(async (s) => (await request(`${s.url}/metrics`, { headersTimeout: 1_000, bodyTimeout: 1_000 })).body.text())),
        Promise.all(this.origins.map(async (o) => (await request(`${o}/metrics`, { headersTimeout: 1_000, bodyTimeout: 1_000 })).body.text())),
      ]);
      const gauge = (t: string, name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(t)?.[1] ?? 0);
      const per = figures.map((t) => ({ running: gauge(t, 'vllm:num_requests_running'), waiting: gauge(t, 'vllm:num_requests_waiting') }));
      const permits = texts.reduce((n, t) => n + Number(/^surgeguard_proxy_admitted_in_flight\{[^}]*pool="model-servers"[^}]*\} (\S+)$/m.exec(t)?.[1] ?? 0), 0);
      const held = per.reduce((n, p) => n + p.running + p.waiting, 0);
      this.rows.push({
        held,
        permits,
        slots: pods.length * this.slotsPerPod,
        allWaiting: per.length > 0 && per.every((p) => p.waiting > 0),
        imbalance: per.some((p) => p.waiting > 0) && per.some((p) => p.running < this.slotsPerPod),
      });
    } catch {
      // a sample a pod or a replica did not answer in time is left out
    } finally {
      this.busy = false;
    }
  }
}

function criticalKeyName(r: Rendered): string {
  const keys = (r.config.auth?.keys ?? []) as { name: string; tier: string }[];
  // a client's key: not the one the regions call each other with
  const k = keys.find((x) => x.tier === 'critical' && x.name !== CROSS_REGION_KEY_NAME);
  if (!k) throw new Error('the rendered config has no critical-tier API key');
  return k.name;
}

function summarise(
  scenario: ScenarioName,
  setup: SetupName,
  outcomes: Outcome[],
  received: number,
  phases: Phase[],
  aliveLog: Array<{ atMs: number; alive: number; local: number }>,
  perSim: number,
  withRemote: boolean,
): RunResult {
  const surgeStart = phases[0].durationS * 1000;
  const surgeEnd = surgeStart + phases[1].durationS * 1000;
  const fig = (os: Outcome[]) => {
    const ok = os.filter((o) => o.ok).map((o) => o.latencyMs);
    return { n: os.length, pct: round((100 * ok.length) / Math.max(1, os.length), 2)!, p50: round(quantile(ok, 0.5), 0)!, p99: round(quantile(ok, 0.99), 0)! };
  };
  const classes = {} as RunResult['classes'];
  for (const c of PRIORITY_CLASSES) {
    const os = outcomes.filter((o) => o.cls === c);
    const all = fig(os);
    const surge = fig(os.filter((o) => o.atMs >= surgeStart && o.atMs < surgeEnd));
    const surgeOs = os.filter((o) => o.atMs >= surgeStart && o.atMs < surgeEnd);
    // share of the surge's requests the client had to send more than once (a shed or an error reached it)
    const surgeRetriedPct = round((100 * surgeOs.filter((o) => o.tries > 1).length) / Math.max(1, surgeOs.length), 1)!;
    classes[c] = { requests: all.n, successPct: all.pct, p50Ms: all.p50, p99Ms: all.p99, surgeSuccessPct: surge.pct, surgeP99Ms: surge.p99, surgeRetriedPct };
  }
  // alive capacity integrated over the surge window, in requests
  let capacity = 0;
  let localCapacity = 0;
  for (let t = surgeStart; t < surgeEnd; t += 100) {
    const at = [...aliveLog].reverse().find((e) => e.atMs <= t);
    capacity += ((at?.alive ?? 0) * perSim) / 10;
    localCapacity += ((at?.local ?? 0) * perSim) / 10;
  }
  const completedOs = outcomes.filter((o) => o.ok && o.doneAtMs >= surgeStart && o.doneAtMs < surgeEnd);
  const completed = completedOs.length;
  // the second region's simulators are named <id>-r2-gpu-<i>
  const completedLocal = completedOs.filter((o) => o.servedBy !== undefined && !o.servedBy.includes('-r2-')).length;
  const seconds = (surgeEnd - surgeStart) / 1000;
  const lastStatuses: Record<string, number> = {};
  for (const o of outcomes) if (!o.ok) lastStatuses[o.last] = (lastStatuses[o.last] ?? 0) + 1;
  const totalS = phases.reduce((s, p) => s + p.durationS, 0);
  const series: RunResult['series'] = successPerSecond(outcomes, totalS);
  return {
    scenario,
    setup,
    classes,
    requests: outcomes.length,
    upstreamAttemptsPerRequest: round(received / Math.max(1, outcomes.length), 3)!,
    goodput: {
      perSecond: round(completed / seconds, 1)!,
      aliveCapacityPerSecond: round(capacity / seconds, 1)!,
      ofAlivePct: round((100 * completed) / Math.max(1, capacity), 1)!,
      ...(withRemote ? { local: { perSecond: round(completedLocal / seconds, 1)!, aliveCapacityPerSecond: round(localCapacity / seconds, 1)!, ofAlivePct: round((100 * completedLocal) / Math.max(1, localCapacity), 1)! } } : {}),
    },
    lastStatuses,
    series,
  };
}

function targetsOf(r: RunResult): Record<string, { measured: number; target: string; met: boolean }> {
  const c = r.classes;
  return {
    'critical ok % (surge)': { measured: c.critical.surgeSuccessPct, target: '>= 99.9', met: c.critical.surgeSuccessPct >= 99.9 },
    'critical p99 ms (surge)': { measured: c.critical.surgeP99Ms, target: '<= 2000', met: c.critical.surgeP99Ms !== null && c.critical.surgeP99Ms <= 2000 },
    'high ok % (surge)': { measured: c.high.surgeSuccessPct, target: '>= 99', met: c.high.surgeSuccessPct >= 99 },
    'goodput % of alive capacity': { measured: r.goodput.ofAlivePct, target: '>= 90', met: r.goodput.ofAlivePct >= 90 },
    'upstream attempts / request': { measured: r.upstreamAttemptsPerRequest, target: '<= 1.2', met: r.upstreamAttemptsPerRequest <= 1.2 },
  };
}

function printScenario(results: RunResult[]): void {
  const pad = (s: string | number | null, n: number) => String(s ?? '-').padStart(n);
  const s = results[0].scenario;
  console.log(`\n### ${s}: ${SCENARIO_TEXT[s]}${s !== 'spill' && REMOTE_SCENARIOS.has(s) ? '; the second region reachable, as deployed' : ''}`);
  console.log(`${'setup'.padEnd(11)}${'class'.padEnd(9)}${pad('reqs', 6)}${pad('ok %', 8)}${pad('p99 ms', 8)}  | surge:${pad('ok %', 7)}${pad('p99 ms', 8)}${pad('>1 try %', 10)}`);
  for (const r of results) {
    for (const c of PRIORITY_CLASSES) {
      const f = r.classes[c];
      console.log(`${r.setup.padEnd(11)}${c.padEnd(9)}${pad(f.requests, 6)}${pad(f.successPct, 8)}${pad(f.p99Ms, 8)}  |       ${pad(f.surgeSuccessPct, 7)}${pad(f.surgeP99Ms, 8)}${pad(f.surgeRetriedPct, 10)}`);
    }
    console.log(
      `${r.setup.padEnd(11)}surge goodput ${r.goodput.perSecond} req/s of ${r.goodput.aliveCapacityPerSecond} alive = ${r.goodput.ofAlivePct} %${r.goodput.local ? ` (both regions; local pods: ${r.goodput.local.perSecond} req/s of ${r.goodput.local.aliveCapacityPerSecond} alive = ${r.goodput.local.ofAlivePct} %)` : ''}; upstream attempts/request ${r.upstreamAttemptsPerRequest}; failures by last status ${JSON.stringify(r.lastStatuses)}`,
    );
    const t = targetsOf(r);
    console.log(`${''.padEnd(11)}targets: ${Object.entries(t).map(([k, v]) => `${k} ${v.measured} ${v.met ? 'met' : 'NOT met'}`).join('; ')}`);
  }
}

const COLORS: Record<PriorityClass, Rgb> = { critical: [200, 30, 45], high: [235, 140, 0], medium: [40, 110, 200], low: [110, 110, 110] };

async function main(): Promise<void> {
  if (process.env.CELL_SYNTH !== '0' || !existsSync(join(ROOT, 'cdktf.out', 'stacks', `prod-${REGION}-workloads`, 'cdk.tf.json'))) {
    // the synth reads the runtime bundles' manifest (`npm run bundle`); a fresh clone has none yet
    if (!existsSync(join(ROOT, DEFAULT_ARTIFACT_SUBDIR, ARTIFACT_MANIFEST_FILE))) {
      console.log('bundling the runtimes first (node dist/tools/bundle.js): no artifacts manifest yet ...');
      execFileSync(process.execPath, [join(ROOT, 'dist', 'tools', 'bundle.js')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    }
    console.log('synthesizing prod (SURGEGUARD_ENV=prod node dist/scripts/synth.js) ...');
    execFileSync(process.execPath, [join(ROOT, 'dist', 'scripts', 'synth.js')], { cwd: ROOT, env: { ...process.env, SURGEGUARD_ENV: 'prod' }, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const rendered = renderedProxyConfig(REGION);
  SERVED_MODEL.name = rendered.model;
  SERVICE_DNS.ttlMs = renderedServiceDnsTtlS(REGION) * 1000;
  const remoteRegion = Object.values(rendered.config.pools as Record<string, { upstreams?: { region: string }[] }>).flatMap((p) => p.upstreams ?? [])[0]?.region;
  const remote = remoteRegion ? renderedProxyConfig(remoteRegion) : undefined;
  const simSlots = Math.max(1, Math.round(rendered.slots / SLOT_SCALE));
  const capacity = (SIM.count * simSlots) / SERVICE_S;
  const phases: Phase[] = [
    { name: 'base', durationS: WARM_S, rate: capacity * BASE_SHARE },
    { name: 'surge', durationS: SURGE_S, rate: capacity * SURGE_FACTOR },
    { name: 'base', durationS: COOL_S, rate: capacity * BASE_SHARE },
  ];
  const schedule = poissonSchedule(phases, MIX, seededRandom(SEED));
  const keys: Record<string, string> = {};
  for (const k of [...(rendered.config.auth?.keys ?? []), ...(remote?.config.auth?.keys ?? [])] as { name: string }[]) keys[k.name] ??= randomBytes(24).toString('hex');
  console.log(
    `cell benchmark: prod ${REGION} proxy config from cdktf.out (route ${JSON.stringify(rendered.config.routes[0].pools)}), ${REPLICAS} replicas behind haproxy (tcp); ` +
      `${SIM.count} model servers x ${simSlots} slots (synth: ${rendered.slots}, scaled 1/${SLOT_SCALE}), ${SERVICE_S} s per answer: capacity ${capacity} req/s; ` +
      `phases ${phases.map((p) => `${p.name} ${p.durationS}s@${p.rate.toFixed(1)}/s`).join(', ')}; Service DNS answers seen ${SERVICE_DNS.ttlMs / 1000} s late (the rendered CoreDNS ttl); load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'surgeguard-cell-'));
  const results: RunResult[] = [];
  try {
    for (const scenario of SCENARIOS) {
      const runs: RunResult[] = [];
      for (const setup of SETUPS) {
        const t0 = Date.now();
        const r = await runOne(scenario, setup, rendered, remote, phases, schedule, keys, dir);
        console.log(`  ${scenario} / ${setup}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
        runs.push(r);
      }
      printScenario(runs);
      results.push(...runs);
    }
  } finally {
    if (process.env.CELL_KEEP_LOGS !== '1') rmSync(dir, { recursive: true, force: true });
    else console.log(`logs kept in ${dir}`);
  }
  mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const json = {
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadAverage: loadavg() },
    region: REGION,
    simulators: { ...SIM, slots: simSlots, synthSlots: rendered.slots, slotScale: SLOT_SCALE, capacityPerSecond: capacity },
    phases,
    deadlineMs: DEADLINE_MS,
    mix: MIX,
    seed: SEED,
    results: results.map((r) => ({ ...r, targets: targetsOf(r) })),
  };
  writeFileSync(join(RESULTS, `cell-${stamp}.json`), JSON.stringify(json, null, 2));
  writeFileSync(join(RESULTS, 'cell-latest.json'), JSON.stringify(json, null, 2));
  const totalS = phases.reduce((s, p) => s + p.durationS, 0);
  const png = renderPanels(
    results.map((r) => ({
      title: `${r.scenario} / ${r.setup}: critical ${r.classes.critical.surgeSuccessPct}% p99 ${r.classes.critical.surgeP99Ms} ms, goodput ${r.goodput.ofAlivePct}% of alive, ${r.upstreamAttemptsPerRequest} attempts/req`,
      band: [phases[0].durationS, phases[0].durationS + phases[1].durationS] as const,
      series: [...PRIORITY_CLASSES].reverse().map((c) => ({ label: c, color: COLORS[c], points: r.series.map((row) => [row.t + 0.5, row[c] ?? null] as const) })),
    })),
    { title: 'Cell: success within 10 s deadline per class, by arrival second (shaded: 3x surge)', xMax: totalS, xLabel: 'seconds since start', yLabel: 'success %' },
  );
  writeFileSync(join(RESULTS, `cell-${stamp}.png`), png);
  writeFileSync(join(RESULTS, 'cell-latest.png'), png);
  console.log(`\nwrote bench/results/cell-${stamp}.json and .png; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  CHILDREN.killAll();
  process.exit(1);
});
