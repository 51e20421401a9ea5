import { mkdirSync, mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

/** A resource body for a fixture: arguments plus the construct path cdktf would record. */
export function res(path: string, attributes: Record<string, unknown>, extraMeta: Record<string, unknown> = {}): Record<string, unknown> {
  return { '//': { metadata: { path, uniqueId: path.split('/').slice(1).join('_') }, ...extraMeta }, ...attributes };
}

/** One stack of a fixture: `cdk.tf.json` content. */
export interface FixtureStack {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
  readonly output?: Record<string, { value: unknown }>;
  readonly provider?: Record<string, Array<Record<string, unknown>>>;
  readonly terraform?: Record<string, unknown>;
}

/** Writes a cdktf-shaped synth output folder (manifest.json + stacks/<name>/cdk.tf.json) and returns it. */
export function writeSynth(stacks: Record<string, FixtureStack>, dependencies: Record<string, string[]> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'surgeguard-fixture-'));
  const manifest: Record<string, unknown> = {};
  for (const [name, tf] of Object.entries(stacks)) {
    mkdirSync(join(dir, 'stacks', name), { recursive: true });
    writeFileSync(join(dir, 'stacks', name, 'cdk.tf.json'), JSON.stringify({ provider: { aws: [{ region: 'us-east-1' }] }, ...tf }, null, 2));
    manifest[name] = {
      name,
      constructPath: name,
      synthesizedStackPath: `stacks/${name}/cdk.tf.json`,
      workingDirectory: `stacks/${name}`,
      dependencies: dependencies[name] ?? [],
      annotations: [],
    };
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ stacks: manifest }, null, 2));
  return dir;
}
