import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { loadSynthOutput } from '../common/synth-output';
import { synthesizeCheckout } from '../common/synthesize';
import { estimateCost } from './estimate';
import { formatCostMarkdown } from './format';

const USAGE = 'usage: npm run cost -- <env> [--dir <synth output folder>] [--json]';

/** `npm run cost -- <env>`: synthesizes the environment and prints its monthly estimate. */
function main(argv: string[]): number {
  const json = argv.includes('--json');
  const dirIndex = argv.indexOf('--dir');
  const dir = dirIndex >= 0 ? argv[dirIndex + 1] : undefined;
  const positional = argv.filter((a, i) => !a.startsWith('--') && (dirIndex < 0 || i !== dirIndex + 1));
  const env = positional[0];
  if (!env || positional.length > 1 || (dirIndex >= 0 && !dir)) {
    console.error(USAGE);
    return 2;
  }
  let scratch: string | undefined;
  try {
    let outdir = dir ? resolve(dir) : undefined;
    if (!outdir) {
      scratch = mkdtempSync(join(tmpdir(), 'surgeguard-cost-'));
      outdir = scratch;
      synthesizeCheckout(resolve(__dirname, '..', '..', '..'), env, outdir);
    }
    const estimate = estimateCost(loadSynthOutput(outdir), env);
    process.stdout.write(json ? `${JSON.stringify(estimate, null, 2)}\n` : formatCostMarkdown(estimate));
    return 0;
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(`cost: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
