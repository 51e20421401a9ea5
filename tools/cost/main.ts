import { resolve } from 'path';
import { runCli, withSynthOutput } from '../common/cli';
import { loadSynthOutput } from '../common/synth-output';
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
  return withSynthOutput(resolve(__dirname, '..', '..', '..'), env, dir, 'surgeguard-cost-', (outdir) => {
    const estimate = estimateCost(loadSynthOutput(outdir), env);
    process.stdout.write(json ? `${JSON.stringify(estimate, null, 2)}\n` : formatCostMarkdown(estimate));
    return 0;
  });
}

runCli(module, 'cost', main);
