import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { synthesizeCheckout } from './synthesize';

/**
 * What the command-line tools (cost, diagram, diff) share around their own work: running `main`
 * as the process, and a scratch folder (or a synth of the checkout in one) removed afterwards.
 */

/**
 * Runs a tool's `main` as the process when the file is executed (not imported): its return value
 * is the exit code; an exception prints `<name>: <message>` and exits 1.
 */
export function runCli(module: NodeJS.Module, name: string, main: (argv: string[]) => number): void {
  if (require.main !== module) return;
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}

/** Runs `work` with a fresh folder under the temp dir (`<prefix>XXXXXX`), removed afterwards whatever happens. */
export function withScratchDir<T>(prefix: string, work: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs `work` on a synth output: the folder given (`--dir`), else the checkout at `root`
 * synthesized for `env` into a scratch folder removed afterwards.
 */
export function withSynthOutput<T>(root: string, env: string, dir: string | undefined, prefix: string, work: (synthDir: string) => T): T {
  if (dir) return work(resolve(dir));
  return withScratchDir(prefix, (scratch) => {
    synthesizeCheckout(root, env, scratch);
    return work(scratch);
  });
}
