import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { seededRandom } from '../runtime/common/clock';
import { PRIORITY_CLASSES, type PriorityClass } from '../contract/priority';
import { quantile } from './lib/loadgen';
import { renderPanels, type Rgb } from './lib/png-chart';
import { freePort, startChild, type Child } from './lib/processes';
import { NAIVE_RETRY, playSchedule, poissonSchedule, round, successPerSecond, type Arrival, type Outcome, type Phase } from './lib/surge-client';

/**
 * Surge benchmark: `npm run bench:surge`.
 *
 * Two simulators with a known capacity (slots x tokens/s / tokens per answer), open-loop Poisson
 * arrivals at ~55 % of capacity, then 3x capacity for 15 s, then back; classes 10/20/30/40 %
 * (critical/high/medium/low), a 10 s deadline per request. The same arrival schedule is played
 * three times: clients direct to the simulators, through nginx (least_conn, keepalive), and
 * through surgeguard; the clients use the same naive retry loop everywhere (exponential
 * backoff, honouring Retry-After). Prints per-class figures, writes JSON and a PNG chart of
 * success per class over time to bench/results/.
 *
 * Environment knobs (all optional): SURGE_PHASES="warm,surge,cool" seconds (default 10,15,15),
 * SURGE_SETUPS="direct,nginx,surgeguard", SURGE_SEED.
 */

const SIM = { count: 2, slots: 8, tokens: 20, tokensPerSecond: 40, queue: 256, queueTimeoutMs: 60_000 };
/** Requests per second the simulators can complete: slots / (tokens / tps) per simulator. */
const CAPACITY = (SIM.count * SIM.slots * SIM.tokensPerSecond) / SIM.tokens;
const BASE_SHARE = 0.55;
const SURGE_FACTOR = 3;
const DEADLINE_MS = 10_000;
const MIX: Record<PriorityClass, number> = { critical: 0.1, high: 0.2, medium: 0.3, low: 0.4 };
const [WARM_S, SURGE_S, COOL_S] = (process.env.SURGE_PHASES ?? '10,15,15').split(',').map(Number);
const SEED = Number(process.env.SURGE_SEED ?? 42);
const SETUPS = (process.env.SURGE_SETUPS ?? 'direct,nginx,surgeguard').split(',') as SetupName[];
const ROOT = resolve(__dirname, '..', '..');
const RESULTS = join(ROOT, 'bench', 'results');

type SetupName = 'direct' | 'nginx' | 'surgeguard';

interface ClassFigures {
  readonly requests: number;
  readonly successPct: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly clientTriesPerRequest: number;
  /**
   * Upstream attempts per request of this class. Direct and nginx: the client's tries (each one
   * reached a simulator). surgeguard: its admission permits for the class, scaled by the
   * simulators' received / permits ratio (the proxy's own retries, which carry no class).
   */
  readonly upstreamAttemptsPerRequest: number;
  /** Requests that arrived during the surge. */
  readonly surge: { readonly requests: number; readonly successPct: number; readonly p50Ms: number; readonly p99Ms: number };
}

interface SetupResult {
  readonly setup: SetupName;
  readonly classes: Record<PriorityClass, ClassFigures>;
  readonly overall: { requests: number; successPct: number; upstreamAttemptsPerRequest: number; upstreamAttempts: number; proxyPermits?: number };
  /** Successful answers completed during the surge window, per second, and as a share of capacity. */
  readonly surgeGoodput: { perSecond: number; ofCapacityPct: number };
  /** surgeguard only: admission limit, permits in flight and queue depth, sampled every 500 ms. */
  readonly admissionTrace?: Array<{ t: number; limit: number; inflight: number; queued: number; upstreamRunning: number[]; upstreamWaiting: number[] }>;
  /** Per second of arrival: success % per class. */
  readonly series: Array<{ t: number } & Partial<Record<PriorityClass, number | null>>>;
}


async function startSimulators(dir: string): Promise<{ children: Child[]; urls: string[] }> {
  const children: Child[] = [];
  const urls: string[] = [];
  for (let i = 0; i < SIM.count; i++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    children.push(
      await startChild(
        process.execPath,
        [
          join(ROOT, 'dist', 'runtime', 'simulator', 'main.js'),
          ...['--port', String(port), '--name', `gpu-${i}`, '--slots', String(SIM.slots), '--tokens', String(SIM.tokens)],
          ...['--tps', String(SIM.tokensPerSecond), '--queue', String(SIM.queue), '--queue-timeout-ms', String(SIM.queueTimeoutMs)],
        ],
        { probeUrl: `${url}/health`, logFile: join(dir, `sim-${i}.log`) },
      ),
    );
    urls.push(url);
  }
  return { children, urls };
}

async function startNginx(dir: string, sims: string[]): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true });
  const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream sims {
    least_conn;
${sims.map((u) => `    server ${u.replace('http://', '')};`).join('\n')}
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://sims;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 120s;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = await startChild('nginx', ['-e', join(dir, 'nginx-error.log'), '-p', dir, '-c', join(dir, 'nginx.conf')], {
    probeUrl: `http://127.0.0.1:${port}/health`,
    logFile: join(dir, 'nginx.out'),
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function startSurgeguard(dir: string, sims: string[]): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const config = {
    server: { host: '127.0.0.1', port },
    auth: 'none',
    pools: {
      gpu: {
        upstreams: sims.map((url, i) => ({ url, name: `gpu-${i}` })),
        balancer: { type: 'least-outstanding' },
        health: { intervalMs: 1_000 },
      },
    },
    routes: [{ model: 'sim-model', pools: ['gpu'] }],
    // No admission section: the defaults a user gets (the limit learns the members' slots from
    // their /metrics and adapts to their 503s; no hand-set maxConcurrency).
    cache: { l2: { enabled: false } },
    logging: { level: 'warn', accessLog: false },
  };
  writeFileSync(join(dir, 'surgeguard.json'), JSON.stringify(config, null, 2));
  const child = await startChild(process.execPath, [join(ROOT, 'dist', 'runtime', 'proxy', 'main.js'), '--config', join(dir, 'surgeguard.json')], {
    probeUrl: `http://127.0.0.1:${port}/readyz`,
    logFile: join(dir, 'surgeguard.log'),
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Requests the simulators received, and how many of those their client abandoned mid-way. */
async function simStats(urls: string[]): Promise<{ received: number; aborted: number }> {
  let received = 0;
  let aborted = 0;
  for (const u of urls) {
    const r = (await (await request(`${u}/sim/stats`)).body.json()) as { received: number; aborted: number };
    received += r.received;
    aborted += r.aborted;
  }
  return { received, aborted };
}

/** Samples the proxy's admission gauges while a run plays. */
class AdmissionTracer {
  readonly samples: Array<{ t: number; limit: number; inflight: number; queued: number; upstreamRunning: number[]; upstreamWaiting: number[] }> = [];
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;

  constructor(
    private readonly origin: string,
    private readonly sims: readonly string[],
  ) {}

  start(): void {
    this.t0 = performance.now();
    this.timer = setInterval(() => void this.sample(), 500);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    const t = round((performance.now() - this.t0) / 1000, 1)!;
    try {
      const [text, ...simTexts] = await Promise.all([this.origin, ...this.sims].map(async (o) => (await request(`${o}/metrics`)).body.text()));
      const value = (re: RegExp, t = text) => [...t.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
      this.samples.push({
        t,
        limit: value(/^surgeguard_proxy_concurrency_limit\{[^}]*\} (\S+)$/gm),
        inflight: value(/^surgeguard_proxy_admitted_in_flight\{[^}]*\} (\S+)$/gm),
        queued: value(/^surgeguard_proxy_queue_depth\{[^}]*\} (\S+)$/gm),
        upstreamRunning: simTexts.map((t) => value(/^vllm:num_requests_running\{[^}]*\} (\S+)$/gm, t)),
        upstreamWaiting: simTexts.map((t) => value(/^vllm:num_requests_waiting\{[^}]*\} (\S+)$/gm, t)),
      });
    } catch {
      // a missed sample is not worth failing the run for
    }
  }
}

/** Adaptive limit moves by cause from `surgeguard_proxy_concurrency_limit_changes_total`. */
async function limitChangesFromMetrics(origin: string): Promise<Record<string, number>> {
  const text = await (await request(`${origin}/metrics`)).body.text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^surgeguard_proxy_concurrency_limit_changes_total\{[^}]*cause="(\w+)"[^}]*\} (\S+)$/gm)) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  return out;
}

/** Admission permits per class from the proxy's `surgeguard_proxy_admitted_total`. */
async function admittedFromMetrics(origin: string): Promise<Record<PriorityClass, number>> {
  const text = await (await request(`${origin}/metrics`)).body.text();
  const out: Record<PriorityClass, number> = { critical: 0, high: 0, medium: 0, low: 0 };
  for (const line of text.split('\n')) {
    const m = /^surgeguard_proxy_admitted_total\{[^}]*class="(\w+)"[^}]*\} (\S+)$/.exec(line);
    if (m && m[1] in out) out[m[1] as PriorityClass] += Number(m[2]);
  }
  return out;
}

async function resetSims(urls: string[]): Promise<void> {
  for (const u of urls) await (await request(`${u}/sim/reset`, { method: 'POST' })).body.dump();
}

function summarise(setup: SetupName, outcomes: Outcome[], upstreamAttempts: number, admitted: Record<PriorityClass, number> | undefined, phases: Phase[]): SetupResult {
  const admittedTotal = admitted ? PRIORITY_CLASSES.reduce((n, c) => n + admitted[c], 0) : 0;
  const surgeStart = phases[0].durationS * 1000;
  const surgeEnd = surgeStart + phases[1].durationS * 1000;
  const inSurge = (o: Outcome) => o.atMs >= surgeStart && o.atMs < surgeEnd;
  const figures = (os: Outcome[]) => {
    const ok = os.filter((o) => o.ok).map((o) => o.latencyMs);
    return { requests: os.length, successPct: round((100 * ok.length) / Math.max(1, os.length), 2)!, p50Ms: round(quantile(ok, 0.5), 0)!, p99Ms: round(quantile(ok, 0.99), 0)! };
  };
  const classes = {} as Record<PriorityClass, ClassFigures>;
  for (const c of PRIORITY_CLASSES) {
    const os = outcomes.filter((o) => o.cls === c);
    classes[c] = {
      ...figures(os),
      clientTriesPerRequest: round(os.reduce((n, o) => n + o.tries, 0) / Math.max(1, os.length), 2)!,
      upstreamAttemptsPerRequest: round(
        (admitted ? (admitted[c] * upstreamAttempts) / Math.max(1, admittedTotal) : os.reduce((n, o) => n + o.tries, 0)) / Math.max(1, os.length),
        2,
      )!,
      surge: figures(os.filter(inSurge)),
    };
  }
  const completedInSurge = outcomes.filter((o) => o.ok && o.doneAtMs >= surgeStart && o.doneAtMs < surgeEnd).length;
  const perSecond = completedInSurge / phases[1].durationS;
  const totalS = phases.reduce((s, p) => s + p.durationS, 0);
  const series: SetupResult['series'] = successPerSecond(outcomes, totalS);
  return {
    setup,
    classes,
    overall: {
      requests: outcomes.length,
      successPct: round((100 * outcomes.filter((o) => o.ok).length) / Math.max(1, outcomes.length), 2)!,
      upstreamAttempts,
      ...(admitted ? { proxyPermits: admittedTotal } : {}),
      upstreamAttemptsPerRequest: round(upstreamAttempts / Math.max(1, outcomes.length), 3)!,
    },
    surgeGoodput: { perSecond: round(perSecond, 1)!, ofCapacityPct: round((100 * perSecond) / CAPACITY, 1)! },
    series,
  };
}

function printTable(results: SetupResult[]): void {
  const pad = (s: string | number | null, n: number) => String(s ?? '-').padStart(n);
  console.log(`\ncapacity ${CAPACITY} req/s (${SIM.count} simulators x ${SIM.slots} slots, ${SIM.tokens} tokens at ${SIM.tokensPerSecond} tok/s); deadline ${DEADLINE_MS / 1000} s`);
  console.log(
    `${'setup'.padEnd(11)}${'class'.padEnd(9)}${pad('reqs', 6)}${pad('ok %', 8)}${pad('p50 ms', 8)}${pad('p99 ms', 8)}${pad('tries', 7)}${pad('upstr/req', 10)}  | surge:${pad('ok %', 7)}${pad('p50 ms', 8)}${pad('p99 ms', 8)}`,
  );
  for (const r of results) {
    for (const c of PRIORITY_CLASSES) {
      const f = r.classes[c];
      console.log(
        `${r.setup.padEnd(11)}${c.padEnd(9)}${pad(f.requests, 6)}${pad(f.successPct, 8)}${pad(f.p50Ms, 8)}${pad(f.p99Ms, 8)}${pad(f.clientTriesPerRequest, 7)}${pad(f.upstreamAttemptsPerRequest, 10)}  |       ${pad(f.surge.successPct, 7)}${pad(f.surge.p50Ms, 8)}${pad(f.surge.p99Ms, 8)}`,
      );
    }
    console.log(
      `${r.setup.padEnd(11)}${'all'.padEnd(9)}${pad(r.overall.requests, 6)}${pad(r.overall.successPct, 8)}   upstream attempts/request ${r.overall.upstreamAttemptsPerRequest}, surge goodput ${r.surgeGoodput.perSecond} req/s = ${r.surgeGoodput.ofCapacityPct} % of capacity`,
    );
  }
}

const COLORS: Record<PriorityClass, Rgb> = { critical: [200, 30, 45], high: [235, 140, 0], medium: [40, 110, 200], low: [110, 110, 110] };

async function main(): Promise<void> {
  const phases: Phase[] = [
    { name: 'base', durationS: WARM_S, rate: CAPACITY * BASE_SHARE },
    { name: 'surge', durationS: SURGE_S, rate: CAPACITY * SURGE_FACTOR },
    { name: 'base', durationS: COOL_S, rate: CAPACITY * BASE_SHARE },
  ];
  const schedule: Arrival[] = poissonSchedule(phases, MIX, seededRandom(SEED));
  const body = (a: Arrival) => JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: `request ${a.index}` }], max_tokens: SIM.tokens, temperature: 0.7 });
  const dir = mkdtempSync(join(tmpdir(), 'surgeguard-surge-'));
  const started: Child[] = [];
  const results: SetupResult[] = [];
  console.log(`surge benchmark: ${schedule.length} requests, phases ${phases.map((p) => `${p.name} ${p.durationS}s@${p.rate.toFixed(1)}/s`).join(', ')}`);
  try {
    const sims = await startSimulators(dir);
    started.push(...sims.children);
    for (const setup of SETUPS) {
      let origins: string[];
      let stop: (() => Promise<void>) | undefined;
      let admittedByClass: (() => Promise<Record<PriorityClass, number>>) | undefined;
      let trace: AdmissionTracer | undefined;
      if (setup === 'direct') origins = sims.urls;
      else if (setup === 'nginx') {
        const n = await startNginx(dir, sims.urls);
        origins = [n.url];
        stop = () => n.child.stop();
      } else {
        const s = await startSurgeguard(dir, sims.urls);
        origins = [s.url];
        stop = () => s.child.stop();
        admittedByClass = () => admittedFromMetrics(s.url);
        trace = new AdmissionTracer(s.url, sims.urls);
      }
      await resetSims(sims.urls);
      const clientRandom = seededRandom(SEED + 1);
      const t0 = Date.now();
      console.log(`running ${setup} ...`);
      trace?.start();
      const outcomes = await playSchedule(schedule, {
        originFor: (_a, _try) => origins[Math.floor(clientRandom() * origins.length)],
        deadlineMs: DEADLINE_MS,
        retry: NAIVE_RETRY,
        random: clientRandom,
        body,
      });
      trace?.stop();
      const sim = await simStats(sims.urls);
      const attempts = sim.received;
      const admitted = await admittedByClass?.();
      const changes = setup === 'surgeguard' ? await limitChangesFromMetrics(origins[0]) : undefined;
      await stop?.();
      const r = { ...summarise(setup, outcomes, attempts, admitted, phases), ...(trace ? { admissionTrace: trace.samples } : {}) };
      results.push(r);
      console.log(`  ${setup}: ${r.overall.successPct} % within deadline, ${r.overall.upstreamAttemptsPerRequest} upstream attempts/request (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      if (changes) console.log(`  admission limit changes by cause: ${JSON.stringify(changes)}; ${r.overall.proxyPermits} permits, ${attempts} upstream attempts, ${sim.aborted} abandoned mid-way`);
      if (trace && trace.samples.length > 0) {
        const limits = trace.samples.map((x) => x.limit);
        const full = trace.samples.filter((x) => x.queued > 0);
        console.log(
          `  admission: limit min ${Math.min(...limits)} / mean ${round(limits.reduce((a, b) => a + b, 0) / limits.length)} of ${SIM.count * SIM.slots} ` +
            `(while requests queued, i.e. the limit in use: min ${full.length > 0 ? Math.min(...full.map((x) => x.limit)) : '-'} / mean ${round(full.reduce((a, b) => a + b.limit, 0) / Math.max(1, full.length))}; ` +
            `before the first queueing the capacity is unknown and the limit, not in use, is adaptive.initial); ` +
            `permits in flight while requests queued: mean ${round(full.reduce((a, b) => a + b.inflight, 0) / Math.max(1, full.length))}; ` +
            `upstream running+waiting while queued: mean ${round(full.reduce((a, b) => a + [...b.upstreamRunning, ...b.upstreamWaiting].reduce((x, y) => x + y, 0), 0) / Math.max(1, full.length))}, ` +
            `samples with every upstream waiting: ${full.filter((x) => Math.min(...x.upstreamWaiting) > 0).length}/${full.length}`,
        );
      }
      // Let the simulators drain what the previous setup left queued before the next run.
      for (let i = 0; i < 300; i++) {
        let busy = 0;
        for (const u of sims.urls) {
          const st = (await (await request(`${u}/sim/stats`)).body.json()) as { inFlight: number; waiting: number };
          busy += st.inFlight + st.waiting;
        }
        if (busy === 0) break;
        await new Promise((r2) => setTimeout(r2, 200));
      }
    }
  } finally {
    for (const c of started) await c.stop();
  }
  printTable(results);

  const sg = results.find((r) => r.setup === 'surgeguard');
  const targets = sg && {
    criticalSurgeSuccessPct: { target: '>= 99.9', measured: sg.classes.critical.surge.successPct, met: sg.classes.critical.surge.successPct >= 99.9 },
    criticalSurgeP99Ms: { target: '<= 2000', measured: sg.classes.critical.surge.p99Ms, met: sg.classes.critical.surge.p99Ms <= 2000 },
    surgeGoodputOfCapacityPct: { target: '>= 90', measured: sg.surgeGoodput.ofCapacityPct, met: sg.surgeGoodput.ofCapacityPct >= 90 },
    upstreamAttemptsPerRequest: { target: '<= 1.2', measured: sg.overall.upstreamAttemptsPerRequest, met: sg.overall.upstreamAttemptsPerRequest <= 1.2 },
  };
  if (targets) {
    console.log('\ntargets through surgeguard:');
    for (const [k, v] of Object.entries(targets)) console.log(`  ${k.padEnd(28)} ${String(v.measured).padStart(8)}  (target ${v.target}) ${v.met ? 'met' : 'NOT met'}`);
  }

  mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const json = {
    when: new Date().toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    simulators: { ...SIM, capacityPerSecond: CAPACITY },
    phases,
    deadlineMs: DEADLINE_MS,
    mix: MIX,
    clientRetry: NAIVE_RETRY,
    seed: SEED,
    targets,
    results,
  };
  const jsonFile = join(RESULTS, `surge-${stamp}.json`);
  writeFileSync(jsonFile, JSON.stringify(json, null, 2));
  writeFileSync(join(RESULTS, 'surge-latest.json'), JSON.stringify(json, null, 2));
  const totalS = phases.reduce((s, p) => s + p.durationS, 0);
  const png = renderPanels(
    results.map((r) => ({
      title: `${r.setup}: ${r.overall.successPct}% ok, ${r.overall.upstreamAttemptsPerRequest} upstream attempts/req, surge goodput ${r.surgeGoodput.ofCapacityPct}% of capacity`,
      band: [phases[0].durationS, phases[0].durationS + phases[1].durationS] as const,
      // Lowest class drawn first, so critical stays visible on top where lines overlap.
      series: [...PRIORITY_CLASSES].reverse().map((c) => ({ label: c, color: COLORS[c], points: r.series.map((row) => [row.t + 0.5, row[c] ?? null] as const) })),
    })),
    { title: 'Success within 10 s deadline per class, by arrival second (shaded: 3x surge)', xMax: totalS, xLabel: 'seconds since start', yLabel: 'success %' },
  );
  const pngFile = join(RESULTS, `surge-${stamp}.png`);
  writeFileSync(pngFile, png);
  writeFileSync(join(RESULTS, 'surge-latest.png'), png);
  console.log(`\nwrote ${jsonFile}\nwrote ${pngFile}`);
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
