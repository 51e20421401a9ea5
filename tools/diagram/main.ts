import { execFileSync } from 'child_process';
import { mkdirSync, writeFileSync } from 'fs';
import { join, relative, resolve } from 'path';
import { runCli, withSynthOutput } from '../common/cli';
import { loadSynthOutput } from '../common/synth-output';
import { renderDot, renderMermaid } from './render';
import { readTopology } from './topology';

const USAGE = 'usage: npm run diagram -- <env> [--out <folder>] [--dir <synth output folder>] [--no-svg]';
const ROOT = resolve(__dirname, '..', '..', '..');
/** Where the committed diagrams live (the README shows docs/diagrams/prod-topology.svg). */
export const DIAGRAM_DIR = join(ROOT, 'docs', 'diagrams');

function main(argv: string[]): number {
  const value = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const out = resolve(value('--out') ?? DIAGRAM_DIR);
  const dir = value('--dir');
  const svg = !argv.includes('--no-svg');
  const positional = argv.filter((a, i) => !a.startsWith('--') && !['--out', '--dir'].includes(argv[i - 1]));
  if (positional.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const env = positional[0];
  return withSynthOutput(ROOT, env, dir, 'surgeguard-diagram-', (synthDir) => {
    const topology = readTopology(loadSynthOutput(synthDir), env);
    mkdirSync(out, { recursive: true });
    const dotFile = join(out, `${env}-topology.dot`);
    const mermaidFile = join(out, `${env}-topology.mmd`);
    writeFileSync(dotFile, renderDot(topology));
    writeFileSync(mermaidFile, renderMermaid(topology));
    const written = [dotFile, mermaidFile];
    if (svg) {
      const svgFile = join(out, `${env}-topology.svg`);
      try {
        execFileSync('dot', ['-Tsvg', dotFile, '-o', svgFile], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
      } catch (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        throw new Error(missing ? 'Graphviz `dot` is not installed (apt-get install graphviz, or bash scripts/services.sh); use --no-svg for DOT and Mermaid only' : `dot failed: ${String((err as { stderr?: unknown }).stderr ?? err)}`);
      }
      written.push(svgFile);
    }
    console.log(`diagram: ${env}: ${topology.nodes.length} nodes, ${topology.edges.length} connections -> ${written.map((f) => relative(process.cwd(), f)).join(', ')}`);
    return 0;
  });
}

runCli(module, 'diagram', main);
