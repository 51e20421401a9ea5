/**
 * `npm run bench:synth`: per environment, stacks and resources, wall time and peak memory (max RSS) of
 * synthesizing it (1) as compiled JavaScript (`node dist/main.js`) and (2) through `cdktf synth`
 * (cdktf.json's app command, as `npx cdktf synth` runs it). Each measurement is a fresh child process,
 * repeated RUNS times (median reported, min in brackets); peak memory is the child's
 * `process.resourceUsage().maxRSS` for compiled JS, and GNU time's max RSS of the largest process in
 * the tree for the CLI. Baseline, measured in the same run: an empty cdktf App synthesized the same way.
 * Targets (2-core machine): prod <= 3 s and <= 400 MiB as compiled JS, <= 5 s through cdktf synth.
 * The machine is often shared: the CPU columns (user + system of the process tree) and the ratio to
 * the baseline measured in the same run are what to compare across runs; wall time is what the
 * targets are about. BENCH_RUNS sets the repetitions (default 3).
 */
import { execFileSync, spawnSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { App } from 'cdktf';
import { ENVIRONMENTS } from '../envs';
import { synthesize } from '../main';
import { summarizeSynth } from '../scripts/synth';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const repo = resolve(__dirname, '..', '..');
const TARGETS = { jsSeconds: 3, jsMiB: 400, cliSeconds: 5 };

interface Sample {
  wallMs: number;
  /** User + system CPU of the process tree: far less sensitive than wall time to other load on the machine. */
  cpuMs: number;
  maxRssMiB: number;
}

function childMode(): void {
  // argv: --child <env|baseline> [outdir]; without outdir, cdktf's default (CDKTF_OUTDIR when the CLI runs us).
  const [, , , selector, outdir] = process.argv;
  if (selector === 'baseline') new App(outdir === undefined ? {} : { outdir }).synth();
  else synthesize(selector, outdir);
  const usage = process.resourceUsage();
  process.stdout.write(JSON.stringify({ maxRssKiB: usage.maxRSS, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 }));
}

function runJs(selector: string): Sample {
  const outdir = mkdtempSync(join(tmpdir(), 'surgeguard-bench-'));
  try {
    const started = process.hrtime.bigint();
    const out = execFileSync(process.execPath, [__filename, '--child', selector, outdir], { cwd: repo, encoding: 'utf8' });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    const reported = JSON.parse(out) as { maxRssKiB: number; cpuMs: number };
    return { wallMs, cpuMs: reported.cpuMs, maxRssMiB: reported.maxRssKiB / 1024 };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** `cdktf synth` of `selector` through cdktf.json's app command, or of an empty App (`baseline`). */
function runCli(selector: string): Sample {
  const outdir = mkdtempSync(join(tmpdir(), 'surgeguard-bench-cli-'));
  const timeFile = join(outdir, 'time.txt');
  try {
    const cdktf = join(repo, 'node_modules', '.bin', 'cdktf');
    const hasGnuTime = existsSync('/usr/bin/time');
    const synthArgs = ['synth', '--output', join(outdir, 'out')];
    if (selector === 'baseline') synthArgs.push('--app', `node ${__filename} --child baseline`);
    const [cmd, args] = hasGnuTime ? ['/usr/bin/time', ['-f', '%M %U %S', '-o', timeFile, cdktf, ...synthArgs]] : [cdktf, synthArgs];
    const started = process.hrtime.bigint();
    const result = spawnSync(cmd, args, {
      cwd: repo,
      env: { ...process.env, SURGEGUARD_ENV: selector, CHECKPOINT_DISABLE: '1', DISABLE_VERSION_CHECK: '1', CI: 'true' },
      encoding: 'utf8',
    });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (result.status !== 0) throw new Error(`cdktf synth failed for ${selector}: ${result.stderr || result.stdout}`);
    if (!hasGnuTime) return { wallMs, cpuMs: NaN, maxRssMiB: NaN };
    const [rssKiB, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    return { wallMs, cpuMs: (user + sys) * 1000, maxRssMiB: rssKiB / 1024 };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function measure(run: () => Sample): { wall: number; wallMin: number; cpu: number; rss: number } {
  const samples = Array.from({ length: RUNS }, run);
  return {
    wall: median(samples.map((s) => s.wallMs)),
    wallMin: Math.min(...samples.map((s) => s.wallMs)),
    cpu: median(samples.map((s) => s.cpuMs)),
    rss: Math.max(...samples.map((s) => s.maxRssMiB)),
  };
}

function main(): void {
  if (!existsSync(join(repo, 'dist', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm run bench:synth does)');
  const rows: string[][] = [];
  const results: Record<string, unknown> = {};
  const fmtS = (ms: number, min: number) => `${(ms / 1000).toFixed(2)} s [${(min / 1000).toFixed(2)}]`;
  const baseJs = measure(() => runJs('baseline'));
  const baseCli = measure(() => runCli('baseline'));
  const fmtCpu = (ms: number) => (Number.isNaN(ms) ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);
  rows.push([
    'baseline (empty App)', '0', '0', fmtS(baseJs.wall, baseJs.wallMin), fmtCpu(baseJs.cpu), baseJs.rss.toFixed(0),
    fmtS(baseCli.wall, baseCli.wallMin), fmtCpu(baseCli.cpu), Number.isNaN(baseCli.rss) ? 'n/a' : baseCli.rss.toFixed(0), '1.00',
  ]);
  results.baseline = { js: baseJs, cli: baseCli };
  for (const name of Object.keys(ENVIRONMENTS)) {
    const countDir = mkdtempSync(join(tmpdir(), 'surgeguard-bench-count-'));
    let stacks = 0;
    let resources = 0;
    try {
      synthesize(name, countDir);
      const summary = summarizeSynth(countDir);
      stacks = summary.length;
      resources = summary.reduce((n, s) => n + s.resources, 0);
    } finally {
      rmSync(countDir, { recursive: true, force: true });
    }
    const js = measure(() => runJs(name));
    const cli = measure(() => runCli(name));
    rows.push([
      name,
      String(stacks),
      String(resources),
      fmtS(js.wall, js.wallMin),
      fmtCpu(js.cpu),
      js.rss.toFixed(0),
      fmtS(cli.wall, cli.wallMin),
      fmtCpu(cli.cpu),
      Number.isNaN(cli.rss) ? 'n/a' : cli.rss.toFixed(0),
      (js.cpu / baseJs.cpu).toFixed(2),
    ]);
    results[name] = { stacks, resources, js, cli };
    if (name === 'prod') {
      const ok = js.wall <= TARGETS.jsSeconds * 1000 && js.rss <= TARGETS.jsMiB && cli.wall <= TARGETS.cliSeconds * 1000;
      results.prodTargetsMet = ok;
    }
  }
  const header = [
    'environment', 'stacks', 'resources', 'js wall (median [min])', 'js cpu', 'js peak MiB',
    'cdktf synth wall', 'cli cpu', 'cli peak MiB', 'js cpu / baseline',
  ];
  const table = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...table.map((r) => r[c].length)));
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when the table is printed
  const os = require('os') as typeof import('os');
  console.log(
    `bench:synth — ${RUNS} runs each, fresh process per run, ${os.cpus().length} CPUs, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`,
  );
  for (const r of table) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  console.log(
    `targets (prod): compiled JS <= ${TARGETS.jsSeconds} s and <= ${TARGETS.jsMiB} MiB, cdktf synth <= ${TARGETS.cliSeconds} s -> ${results.prodTargetsMet ? 'met' : 'NOT met'}`,
  );
  mkdirSync(join(repo, 'bench', 'results'), { recursive: true });
  writeFileSync(join(repo, 'bench', 'results', 'synth.json'), JSON.stringify(results, null, 2) + '\n');
}

if (process.argv[2] === '--child') childMode();
else main();
