import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { build, BuildOptions } from 'esbuild';
import { ARTIFACT_MANIFEST_FILE, ArtifactManifest, BundledArtifact, DEFAULT_ARTIFACT_SUBDIR, RUNTIME_NODE_IMAGE } from '../constructs/artifacts/runtime-artifacts';

/**
 * `npm run bundle`: the proxy, the worker, the simulator and the launcher (the pods' init step),
 * each bundled by esbuild into one self-contained CommonJS file plus its source map, and written to
 * `dist/artifacts/<name>/<sha256 of the bundle>/<name>.js{,.map}` with `manifest.json` listing them.
 *
 * Byte-identical for the same tree wherever it is checked out: esbuild runs with the repository as
 * its working directory, every path it writes (the bundle's `// runtime/...` comments, the map's
 * `sources`) is relative, and nothing time- or host-dependent goes in.
 */

/** What gets bundled, and from which entry point (relative to the repository root). */
export const BUNDLE_ENTRIES: Readonly<Record<string, string>> = {
  proxy: 'runtime/proxy/main.ts',
  worker: 'runtime/worker/main.ts',
  simulator: 'runtime/simulator/main.ts',
  launcher: 'runtime/launcher/main.ts',
};

/** esbuild's target: the Node version of the image the stacks run the bundles in. */
export const BUNDLE_TARGET = `node${RUNTIME_NODE_IMAGE.nodeVersion}`;

export interface BundleOptions {
  /** Repository root holding the sources and node_modules. @default - this repository */
  readonly root?: string;
  /** Output directory. @default `<root>/dist/artifacts` */
  readonly outDir?: string;
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Replaces `path` in one step (write aside, then rename): a synth or test reading the bundles while
 * `npm run bundle` runs again (as `npm pack` does) sees the old bytes or the new ones, never half a file.
 */
function writeAtomically(path: string, data: Uint8Array | string): void {
  const aside = `${path}.${process.pid}.tmp`;
  writeFileSync(aside, data);
  renameSync(aside, path);
}

/** Bundles every entry and writes the manifest; returns it. */
export async function bundleRuntimes(options: BundleOptions = {}): Promise<ArtifactManifest> {
  // This file runs as tools/bundle.ts (ts-jest) or dist/tools/bundle.js (npm run bundle).
  const here = resolve(__dirname, '..');
  const root = resolve(options.root ?? (basename(here) === 'dist' ? join(here, '..') : here));
  const outDir = resolve(options.outDir ?? join(root, DEFAULT_ARTIFACT_SUBDIR));
  const artifacts: Record<string, BundledArtifact> = {};
  for (const [name, entry] of Object.entries(BUNDLE_ENTRIES)) {
    // Built in memory as if into <root>/dist/artifacts/<name>/<hash>/ (a placeholder at the depth of
    // the final directory), so the map's relative `sources` are the same wherever outDir is.
    const placeholder = join(root, DEFAULT_ARTIFACT_SUBDIR, name, '0'.repeat(64));
    const common: BuildOptions = {
      absWorkingDir: root,
      entryPoints: [join(root, entry)],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: BUNDLE_TARGET,
      outfile: join(placeholder, `${name}.js`),
      sourcemap: 'linked',
      sourcesContent: true,
      legalComments: 'eof',
      charset: 'utf8',
      // node_modules reached through a symlink keep their link path (a checkout whose
      // node_modules links elsewhere bundles the same relative paths).
      preserveSymlinks: true,
      write: false,
      logLevel: 'silent',
    };
    const result = await build(common);
    if (result.errors.length > 0) throw new Error(`bundle ${name}: ${result.errors.map((e) => e.text).join('; ')}`);
    const outputs = result.outputFiles ?? [];
    const js = outputs.find((f) => f.path.endsWith('.js'));
    const map = outputs.find((f) => f.path.endsWith('.js.map'));
    if (!js || !map) throw new Error(`bundle ${name}: esbuild produced no ${js ? 'source map' : 'bundle'}`);
    const hash = sha256(js.contents);
    const dir = join(outDir, name, hash);
    mkdirSync(dir, { recursive: true });
    writeAtomically(join(dir, `${name}.js`), js.contents);
    writeAtomically(join(dir, `${name}.js.map`), map.contents);
    // Older builds of this runtime are not referenced by the manifest any more.
    for (const old of readdirSync(join(outDir, name))) if (old !== hash) rmSync(join(outDir, name, old), { recursive: true, force: true });
    artifacts[name] = {
      sha256: hash,
      bytes: js.contents.byteLength,
      file: relative(outDir, join(dir, `${name}.js`)).split('\\').join('/'),
      sourceMap: { file: relative(outDir, join(dir, `${name}.js.map`)).split('\\').join('/'), sha256: sha256(map.contents) },
    };
  }
  const manifest: ArtifactManifest = { format: 1, target: BUNDLE_TARGET, artifacts };
  writeAtomically(join(outDir, ARTIFACT_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (require.main === module) {
  const started = process.hrtime.bigint();
  bundleRuntimes().then(
    (manifest) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      for (const [name, a] of Object.entries(manifest.artifacts)) {
        console.log(`bundle: ${name.padEnd(9)} ${a.sha256}  ${(a.bytes / 1024).toFixed(0).padStart(5)} KiB  dist/artifacts/${a.file}`);
      }
      console.log(`bundle: target ${manifest.target}, ${(ms / 1000).toFixed(2)} s`);
    },
    (err: Error) => {
      console.error(`bundle failed: ${err.message}`);
      process.exit(1);
    },
  );
}
