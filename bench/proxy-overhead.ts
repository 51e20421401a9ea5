import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LoadResult, LoadTarget, closedLoop, openLoop, quantile } from './lib/loadgen';
import { Child, freePort, startChild } from './lib/processes';

/**
 * npm run bench:proxy-overhead
 *
 * What surgeguard adds in front of a model server, against calling it directly and against nginx
 * (least_conn, upstream keepalive) in front of the same simulator, all in one run on this
 * machine. Simulator, proxy, nginx and this load generator run as separate processes. The
 * simulator answers instantly (no latency, 1 token, slots to spare) so what is measured is the
 * gateway. Latency: open loop at a fixed rate; throughput: closed loop with N connections.
 *
 * Environment knobs: BENCH_RATE (500), BENCH_SECONDS (6), BENCH_CONNECTIONS (32),
 * BENCH_THROUGHPUT_SECONDS (5), BENCH_WARMUP_SECONDS (3), BENCH_ROUNDS (5), NGINX_BIN (/usr/sbin/nginx).
 * Targets are measured in interleaved rounds and each figure is the median over the rounds: on a
 * 2-core machine the three processes of a run compete for CPU and single rounds vary by 10 %.
 */
const ROOT = resolve(__dirname, '../..');
const RATE = Number(process.env.BENCH_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const THROUGHPUT_SECONDS = Number(process.env.BENCH_THROUGHPUT_SECONDS ?? 5);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

interface Measured {
  name: string;
  p50: number;
  p99: number;
  okRatio: number;
  maxRps: number;
}

function target(origin: string): LoadTarget {
  return {
    origin,
    path: '/v1/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: 'Say hi.' }], max_tokens: 1 }),
  };
}

function ok(r: LoadResult): number {
  return (r.statuses['200'] ?? 0) / Math.max(1, r.sent);
}

async function measure(name: string, origin: string): Promise<Measured> {
  const t = target(origin);
  // warm-up, the same for every target: connections, JIT compilation of the hot path
  await closedLoop(t, { concurrency: 8, durationMs: WARMUP_SECONDS * 1000 });
  await openLoop(t, { rate: RATE, durationMs: 1_000, connections: 128 });
  const latency = await openLoop(t, { rate: RATE, durationMs: SECONDS * 1000, connections: 128 });
  const throughput = await closedLoop(t, { concurrency: CONNECTIONS, durationMs: THROUGHPUT_SECONDS * 1000 });
  const m = {
    name,
    p50: quantile(latency.latenciesMs, 0.5),
    p99: quantile(latency.latenciesMs, 0.99),
    okRatio: Math.min(ok(latency), ok(throughput)),
    maxRps: throughput.throughput,
  };
  process.stderr.write(`  ${name}: p50 ${m.p50.toFixed(3)} ms, p99 ${m.p99.toFixed(3)} ms, ${m.maxRps.toFixed(0)} req/s, ok ${(m.okRatio * 100).toFixed(2)} %\n`);
  return m;
}

function median(rounds: Measured[]): Measured {
  const mid = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  return {
    name: rounds[0].name,
    p50: mid(rounds.map((r) => r.p50)),
    p99: mid(rounds.map((r) => r.p99)),
    okRatio: Math.min(...rounds.map((r) => r.okRatio)),
    maxRps: mid(rounds.map((r) => r.maxRps)),
  };
}

function nginxConfig(dir: string, port: number, upstream: string): string {
  const u = new URL(upstream);
  return `worker_processes 1;
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  # Like surgeguard's buffered JSON access log (one line per request, flushed every 250 ms):
  # both gateways do the same bookkeeping per request.
  access_log ${dir}/nginx-access.log combined buffer=64k flush=250ms;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000;
  upstream sim {
    least_conn;
    server ${u.hostname}:${u.port};
    keepalive 256;
  }
  server {
    listen 127.0.0.1:${port};
    location = /healthz { return 200 "ok"; }
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-overhead-'));
  const children: Child[] = [];
  try {
    const simPort = await freePort();
    const sim = await startChild(process.execPath, [join(ROOT, 'dist/runtime/simulator/main.js'), '--port', String(simPort), '--slots', '100000', '--queue', '100000', '--tps', '0', '--tokens', '1'], {
      probeUrl: `http://127.0.0.1:${simPort}/health`,
    });
    children.push(sim);
    const simUrl = `http://127.0.0.1:${simPort}`;

    const proxyPort = await freePort();
    const proxyConfig = join(dir, 'proxy.yaml');
    writeFileSync(
      proxyConfig,
      [
        `server: { host: 127.0.0.1, port: ${proxyPort} }`,
        'auth: none',
        'pools:',
        '  local:',
        `    upstreams: [{ url: "${simUrl}", name: sim }]`,
        '    balancer: { type: least-outstanding }',
        'routes: [{ model: sim-model, pools: [local] }]',
        // admission sized to the simulator (slots to spare), as an operator sizes it to the GPUs
        'admission: { pools: { local: { maxConcurrency: 1024 } } }',
        '',
      ].join('\n'),
    );
    const proxy = await startChild(process.execPath, [join(ROOT, 'dist/runtime/proxy/main.js'), '--config', proxyConfig], {
      probeUrl: `http://127.0.0.1:${proxyPort}/readyz`,
      logFile: join(dir, 'proxy.log'),
    });
    children.push(proxy);

    const nginxPort = await freePort();
    for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, nginxPort, simUrl));
    const nginx = await startChild(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'nginx-error.log')], {
      probeUrl: `http://127.0.0.1:${nginxPort}/healthz`,
    });
    children.push(nginx);

    process.stderr.write(
      `proxy-overhead: ${ROUNDS} interleaved rounds; per target ${RATE} req/s open loop for ${SECONDS} s, then ${CONNECTIONS} connections closed loop for ${THROUGHPUT_SECONDS} s\n`,
    );
    const targets = [
      { name: 'simulator (direct)', origin: simUrl },
      { name: 'surgeguard -> simulator', origin: `http://127.0.0.1:${proxyPort}` },
      { name: 'nginx -> simulator', origin: `http://127.0.0.1:${nginxPort}` },
    ];
    const runs: Measured[][] = targets.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < targets.length; i++) runs[i].push(await measure(targets[i].name, targets[i].origin));
    }
    // the median round per figure: other load on a shared machine hits single rounds, not all
    const [direct, sg, ngx] = runs.map(median);

    const rows = [direct, sg, ngx];
    const pad = (s: string, n: number) => s.padEnd(n);
    const num = (n: number, d = 3) => n.toFixed(d);
    const lines = [
      '',
      `## Proxy overhead (${RATE} req/s open loop, ${SECONDS} s; max req/s with ${CONNECTIONS} connections, ${THROUGHPUT_SECONDS} s; median of ${ROUNDS} rounds)`,
      '',
      `| ${pad('target', 24)} | p50 ms | p99 ms | added p50 ms | added p99 ms | max req/s | vs nginx req/s | ok % |`,
      `|${'-'.repeat(26)}|--------|--------|--------------|--------------|-----------|----------------|------|`,
      ...rows.map(
        (r) =>
          `| ${pad(r.name, 24)} | ${num(r.p50)} | ${num(r.p99)} | ${r === direct ? '-' : num(r.p50 - direct.p50)} | ${r === direct ? '-' : num(r.p99 - direct.p99)} | ${r.maxRps.toFixed(0)} | ${(r.maxRps / ngx.maxRps).toFixed(2)} | ${(r.okRatio * 100).toFixed(2)} |`,
      ),
      '',
      `targets: added p50 <= 1 ms: ${sg.p50 - direct.p50 <= 1 ? 'met' : 'MISSED'} (${num(sg.p50 - direct.p50)}); ` +
        `added p99 <= 5 ms: ${sg.p99 - direct.p99 <= 5 ? 'met' : 'MISSED'} (${num(sg.p99 - direct.p99)}); ` +
        `max req/s >= 0.5 x nginx: ${sg.maxRps >= 0.5 * ngx.maxRps ? 'met' : 'MISSED'} (${(sg.maxRps / ngx.maxRps).toFixed(2)} x)`,
      `surgeguard / nginx max req/s per round (same round, back to back): ${runs[1].map((r, i) => (r.maxRps / runs[2][i].maxRps).toFixed(2)).join(' ')}.`,
      `nginx added: p50 ${num(ngx.p50 - direct.p50)} ms, p99 ${num(ngx.p99 - direct.p99)} ms. surgeguard ran with its default config (access log on, to a file; metrics on; health checks on; admission on, sized 1024). Load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores.`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
  } finally {
    for (const c of children.reverse()) await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
