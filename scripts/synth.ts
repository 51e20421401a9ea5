import { readFileSync, rmSync } from 'fs';
import { join } from 'path';
import { synthesize } from '../main';

/** What one synthesized stack holds. */
export interface StackSummary {
  readonly name: string;
  readonly resources: number;
  readonly dataSources: number;
  readonly outputs: number;
  readonly dependencies: readonly string[];
}

function countBlocks(block: Record<string, Record<string, unknown>> | undefined): number {
  return Object.values(block ?? {}).reduce((n, byName) => n + Object.keys(byName).length, 0);
}

/** Reads `<outdir>/manifest.json` and every stack's `cdk.tf.json`, in manifest (sorted) order. */
export function summarizeSynth(outdir: string): StackSummary[] {
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as {
    stacks: Record<string, { synthesizedStackPath: string; dependencies: string[] }>;
  };
  return Object.entries(manifest.stacks)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, stack]) => {
      const tf = JSON.parse(readFileSync(join(outdir, stack.synthesizedStackPath), 'utf8'));
      return {
        name,
        resources: countBlocks(tf.resource),
        dataSources: countBlocks(tf.data),
        outputs: Object.keys(tf.output ?? {}).length,
        dependencies: stack.dependencies,
      };
    });
}

/** A fixed-width table of the summary. */
export function formatSummary(stacks: readonly StackSummary[]): string {
  const rows = [['stack', 'resources', 'data', 'outputs', 'depends on']];
  for (const s of stacks) rows.push([s.name, String(s.resources), String(s.dataSources), String(s.outputs), s.dependencies.join(', ') || '-']);
  const total = stacks.reduce((n, s) => n + s.resources, 0);
  rows.push(['total', String(total), '', '', `${stacks.length} stacks`]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 || c === 4 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd()).join('\n');
}

function main(): void {
  const selector = process.env.SURGEGUARD_ENV ?? 'dev';
  const outdir = 'cdktf.out';
  // Start clean so stacks of a previously synthesized environment do not linger in the output.
  rmSync(outdir, { recursive: true, force: true });
  const started = process.hrtime.bigint();
  synthesize(selector, outdir);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`synth: SURGEGUARD_ENV=${selector} -> ${outdir}/ in ${(ms / 1000).toFixed(2)} s`);
  console.log(formatSummary(summarizeSynth(outdir)));
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    console.error(`synth failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
