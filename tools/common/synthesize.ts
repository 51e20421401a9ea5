import { spawnSync } from 'child_process';
import { join } from 'path';

/**
 * Synthesizes `environments` (an SURGEGUARD_ENV selector: `dev`, `prod`, `all`) of the checkout at
 * `root` into `outdir`, by running that checkout's compiled app (`dist/main.js`) in a child process,
 * so a base revision is synthesized by its own code. Throws with the app's message when synth fails
 * (an invalid environment, a policy violation).
 */
export function synthesizeCheckout(root: string, environments: string, outdir: string): void {
  const result = spawnSync(process.execPath, [join(root, 'dist', 'main.js')], {
    cwd: root,
    env: { ...process.env, SURGEGUARD_ENV: environments, CDKTF_OUTDIR: outdir },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 10 * 60 * 1000,
  });
  if (result.status !== 0) {
    const message = (result.stderr || result.stdout || String(result.error ?? '')).trim();
    throw new Error(`synth of ${root} (SURGEGUARD_ENV=${environments}) failed:\n${message}`);
  }
}
