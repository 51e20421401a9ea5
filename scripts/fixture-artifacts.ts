import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactManifest, ARTIFACTS_DIR_ENV, BundledArtifact } from '../constructs/artifacts/runtime-artifacts';

/**
 * Small, fixed stand-ins for the runtime bundles, for synths that pin the infrastructure's shape
 * (the resource inventories): with them a change to the proxy's or worker's code does not churn every
 * inventory. What the real bundles put into the synth is checked by test/stacks/deployed-artifacts.test.ts.
 */
export function writeFixtureArtifacts(dir: string): void {
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const artifacts: Record<string, BundledArtifact> = {};
  for (const name of ['proxy', 'worker', 'simulator', 'launcher']) {
    const js = `// fixture ${name} bundle (inventories)\n//# sourceMappingURL=${name}.js.map\n`;
    const map = `{"version":3,"sources":[],"names":[],"mappings":"","file":"${name}.js"}\n`;
    const hash = sha(js);
    mkdirSync(join(dir, name, hash), { recursive: true });
    writeFileSync(join(dir, name, hash, `${name}.js`), js);
    writeFileSync(join(dir, name, hash, `${name}.js.map`), map);
    artifacts[name] = { sha256: hash, bytes: Buffer.byteLength(js), file: `${name}/${hash}/${name}.js`, sourceMap: { file: `${name}/${hash}/${name}.js.map`, sha256: sha(map) } };
  }
  const manifest: ArtifactManifest = { format: 1, target: 'fixture', artifacts };
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Runs `fn` with `SURGEGUARD_ARTIFACTS_DIR` pointing at fixture artifacts, then restores it. */
export function withFixtureArtifacts<T>(fn: () => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'surgeguard-fixture-artifacts-'));
  const previous = process.env[ARTIFACTS_DIR_ENV];
  try {
    writeFixtureArtifacts(dir);
    process.env[ARTIFACTS_DIR_ENV] = dir;
    return fn();
  } finally {
    if (previous === undefined) delete process.env[ARTIFACTS_DIR_ENV];
    else process.env[ARTIFACTS_DIR_ENV] = previous;
    rmSync(dir, { recursive: true, force: true });
  }
}
