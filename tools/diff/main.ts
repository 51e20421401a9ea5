import { execFileSync } from 'child_process';
import { existsSync, symlinkSync, writeFileSync } from 'fs';
import { join, resolve } from 'path';
import { runCli, withScratchDir } from '../common/cli';
import { loadSynthOutput, stackEnvironment, SynthOutput } from '../common/synth-output';
import { synthesizeCheckout } from '../common/synthesize';
import { estimateCost } from '../cost/estimate';
import { compareSynths } from './compare';
import { CostDelta, DiffReport, renderMarkdown, statefulRisks } from './render';

const USAGE = `usage: npm run diff -- --base <git-ref> [--env <dev|staging|prod|all>] [--json] [--fail-on replace] [--out <file>]
       npm run diff -- <synth-dir-before> <synth-dir-after> [--json] [--fail-on replace] [--out <file>]`;

/** Exit status when --fail-on replace finds a stateful replacement or destruction. */
export const EXIT_RISK = 3;

interface Options {
  readonly base?: string;
  readonly dirs: readonly string[];
  readonly env: string;
  readonly json: boolean;
  readonly failOnReplace: boolean;
  readonly out?: string;
}

function parseArgs(argv: readonly string[]): Options | string {
  const dirs: string[] = [];
  let base: string | undefined;
  let env = 'all';
  let json = false;
  let failOnReplace = false;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string | undefined => argv[++i];
    if (a === '--base') base = next();
    else if (a === '--env') env = next() ?? '';
    else if (a === '--json') json = true;
    else if (a === '--out') out = next();
    else if (a === '--fail-on') {
      const what = next();
      if (what !== 'replace') return `--fail-on: expected "replace", got "${what ?? ''}"`;
      failOnReplace = true;
    } else if (a.startsWith('--')) return `unknown option ${a}`;
    else dirs.push(a);
  }
  if (base !== undefined && dirs.length > 0) return '--base and two folders exclude each other';
  if (base === undefined && dirs.length !== 2) return 'give --base <git-ref> or two synth output folders';
  if (base === '' || env === '') return 'missing value';
  return { base, dirs, env, json, failOnReplace, out };
}

/** The repository this compiled tool belongs to (dist/tools/diff -> root). */
const ROOT = resolve(__dirname, '..', '..', '..');

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/**
 * Synthesizes `ref` in a temporary worktree (its own code, the current node_modules through a
 * symlink: `npm ci` there would take minutes) and the working tree, both for `env`.
 */
function synthesizeBaseAndHead(ref: string, env: string, scratch: string): { before: SynthOutput; after: SynthOutput; label: string } {
  const sha = git(ROOT, 'rev-parse', '--verify', `${ref}^{commit}`);
  const worktree = join(scratch, 'base');
  git(ROOT, 'worktree', 'add', '--detach', worktree, sha);
  try {
    symlinkSync(join(ROOT, 'node_modules'), join(worktree, 'node_modules'), 'dir');
    // Its own build-info file: the shared node_modules/.cache one describes the working tree's build.
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--tsBuildInfoFile', join(scratch, 'base.tsbuildinfo')], {
      cwd: worktree,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10 * 60 * 1000,
    });
    // A revision that deploys runtime bundles synthesizes with its own, built from its own code.
    const bundler = join(worktree, 'dist', 'tools', 'bundle.js');
    if (existsSync(bundler)) execFileSync(process.execPath, [bundler], { cwd: worktree, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10 * 60 * 1000 });
    const beforeDir = join(scratch, 'before');
    const afterDir = join(scratch, 'after');
    synthesizeCheckout(worktree, env, beforeDir);
    synthesizeCheckout(ROOT, env, afterDir);
    return { before: loadSynthOutput(beforeDir), after: loadSynthOutput(afterDir), label: `${ref} (${sha.slice(0, 10)})` };
  } finally {
    git(ROOT, 'worktree', 'remove', '--force', worktree);
  }
}

/** Cost before and after for every environment either side has. */
export function costDeltas(before: SynthOutput, after: SynthOutput): CostDelta[] {
  const envs = [...new Set([...before.stacks.keys(), ...after.stacks.keys()].map(stackEnvironment))].sort();
  const estimate = (synth: SynthOutput, env: string) =>
    [...synth.stacks.keys()].some((s) => stackEnvironment(s) === env) ? estimateCost(synth, env) : undefined;
  return envs.map((environment) => ({ environment, before: estimate(before, environment), after: estimate(after, environment) }));
}

function main(argv: readonly string[]): number {
  const options = parseArgs(argv);
  if (typeof options === 'string') {
    console.error(`diff: ${options}\n${USAGE}`);
    return 2;
  }
  const report = (before: SynthOutput, after: SynthOutput, labels: [string, string]): number => {
    const diff: DiffReport = { before: labels[0], after: labels[1], diff: compareSynths(before, after), costs: costDeltas(before, after) };
    const text = options.json ? `${JSON.stringify({ ...diff, risks: statefulRisks(diff.diff) }, null, 2)}\n` : renderMarkdown(diff);
    if (options.out) writeFileSync(options.out, text);
    else process.stdout.write(text);
    if (options.failOnReplace && statefulRisks(diff.diff).length > 0) {
      console.error(`diff: ${statefulRisks(diff.diff).length} stateful resource(s) replaced or destroyed (--fail-on replace)`);
      return EXIT_RISK;
    }
    return 0;
  };
  if (options.base !== undefined) {
    const { base, env } = options;
    return withScratchDir('surgeguard-diff-', (scratch) => {
      const synths = synthesizeBaseAndHead(base, env, scratch);
      return report(synths.before, synths.after, [synths.label, 'working tree']);
    });
  }
  for (const dir of options.dirs) if (!existsSync(dir)) throw new Error(`${dir}: no such folder`);
  return report(loadSynthOutput(resolve(options.dirs[0])), loadSynthOutput(resolve(options.dirs[1])), [options.dirs[0], options.dirs[1]]);
}

runCli(module, 'diff', main);
