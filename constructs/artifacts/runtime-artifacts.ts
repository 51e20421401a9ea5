import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Where the construct library finds the bundles `npm run bundle` built (the one module that knows:
 * a packaged library ships `dist/artifacts/` next to its code and finds them the same way).
 */

/**
 * The Node image every proxy and worker pod runs (init step and runtime): the official `node`
 * image, tag `20.18.1-bookworm-slim` (= `iron-slim` at the time), pinned by its multi-platform
 * index digest as published in docker-library/repo-info (repos/node/remote/iron-slim.md: index
 * `sha256:b2c8e0eb…`, linux/amd64 manifest `sha256:35eccf0e…`, ENV NODE_VERSION=20.18.1).
 * The bundles are built for exactly this Node (`nodeVersion` is esbuild's target).
 */
export const RUNTIME_NODE_IMAGE = {
  tag: 'node:20.18.1-bookworm-slim',
  digest: 'sha256:b2c8e0eb8a6aeeae33b2711f8f516003e27ee45804e270468d937b3214f2f0cc',
  nodeVersion: '20.18',
  /** `repository@digest`, what a pod spec names. */
  reference: 'docker.io/library/node@sha256:b2c8e0eb8a6aeeae33b2711f8f516003e27ee45804e270468d937b3214f2f0cc',
} as const;

/** Relative to the package root. */
export const DEFAULT_ARTIFACT_SUBDIR = 'dist/artifacts';
export const ARTIFACT_MANIFEST_FILE = 'manifest.json';
/** Overrides where the artifacts are read from (a directory holding `manifest.json`). */
export const ARTIFACTS_DIR_ENV = 'SURGEGUARD_ARTIFACTS_DIR';

/** One bundle as `npm run bundle` wrote it (paths relative to the artifacts directory). */
export interface BundledArtifact {
  /** SHA-256 (hex) of the bundle: its name and its checksum. */
  readonly sha256: string;
  /** Size of the bundle in bytes. */
  readonly bytes: number;
  /** `<name>/<sha256>/<name>.js` */
  readonly file: string;
  /** Its source map: path (`<name>/<sha256 of the bundle>/<name>.js.map`) and the map's own SHA-256. */
  readonly sourceMap: { readonly file: string; readonly sha256: string };
}

/** `dist/artifacts/manifest.json`. */
export interface ArtifactManifest {
  readonly format: 1;
  /** esbuild's target (`node20.18`). */
  readonly target: string;
  readonly artifacts: Readonly<Record<string, BundledArtifact>>;
}

/** A bundle located on disk, checked against its name. */
export interface RuntimeArtifact extends BundledArtifact {
  /** Name of the runtime (`proxy`, `worker`, `launcher`): its key in the manifest. */
  readonly name: string;
  /** Absolute path of the bundle. */
  readonly path: string;
  /** Absolute path of its source map. */
  readonly sourceMapPath: string;
}

/** The artifacts the stacks deploy. */
export interface RuntimeArtifacts {
  readonly dir: string;
  readonly proxy: RuntimeArtifact;
  readonly worker: RuntimeArtifact;
  readonly launcher: RuntimeArtifact;
}

/**
 * The artifacts directory: `$SURGEGUARD_ARTIFACTS_DIR`, else the nearest `dist/artifacts` with a
 * manifest above this module (the repository, or the installed package), else the repository's
 * (which then names what to run).
 */
export function defaultArtifactsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env[ARTIFACTS_DIR_ENV]) return resolve(env[ARTIFACTS_DIR_ENV]!);
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, DEFAULT_ARTIFACT_SUBDIR);
    if (existsSync(join(candidate, ARTIFACT_MANIFEST_FILE))) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return join(__dirname, '..', '..', DEFAULT_ARTIFACT_SUBDIR);
}

const cache = new Map<string, RuntimeArtifacts>();

/** One bundle of the manifest in `dir` (e.g. the simulator, which is not deployed), checked like the others. */
export function loadBundle(name: string, dir: string = defaultArtifactsDir()): RuntimeArtifact {
  const manifestPath = join(resolve(dir), ARTIFACT_MANIFEST_FILE);
  if (!existsSync(manifestPath)) throw new Error(`runtime artifacts: ${manifestPath} not found; run \`npm run bundle\``);
  const a = (JSON.parse(readFileSync(manifestPath, 'utf8')) as ArtifactManifest).artifacts[name];
  if (!a) throw new Error(`runtime artifacts: ${manifestPath} lists no "${name}" bundle; run \`npm run bundle\``);
  const path = join(resolve(dir), a.file);
  if (createHash('sha256').update(readFileSync(path)).digest('hex') !== a.sha256) throw new Error(`runtime artifacts: ${path} does not match the manifest; run \`npm run bundle\``);
  return { ...a, name, path, sourceMapPath: join(resolve(dir), a.sourceMap.file) };
}

/**
 * Reads the manifest and checks every deployed bundle (and source map) against its SHA-256, so a
 * synth never uploads bytes other than the ones it names. Throws naming the file and the command
 * to run when the bundles are missing or stale.
 */
export function loadRuntimeArtifacts(dir: string = defaultArtifactsDir()): RuntimeArtifacts {
  const abs = resolve(dir);
  const manifestPath = join(abs, ARTIFACT_MANIFEST_FILE);
  if (!existsSync(manifestPath)) {
    throw new Error(`runtime artifacts: ${manifestPath} not found; run \`npm run bundle\` (or set ${ARTIFACTS_DIR_ENV})`);
  }
  const text = readFileSync(manifestPath, 'utf8');
  // Hashing the bundles once per manifest content and directory (many stacks per synth read them).
  const key = `${abs}\n${text}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const manifest = JSON.parse(text) as ArtifactManifest;
  if (manifest.format !== 1) throw new Error(`runtime artifacts: ${manifestPath} has format ${String(manifest.format)}, expected 1`);
  const one = (name: string): RuntimeArtifact => {
    const a = manifest.artifacts[name];
    if (!a) throw new Error(`runtime artifacts: ${manifestPath} lists no "${name}" bundle; run \`npm run bundle\``);
    const path = join(abs, a.file);
    const sourceMapPath = join(abs, a.sourceMap.file);
    for (const [file, expected] of [[path, a.sha256], [sourceMapPath, a.sourceMap.sha256]] as const) {
      if (!existsSync(file)) throw new Error(`runtime artifacts: ${file} is missing; run \`npm run bundle\``);
      const actual = createHash('sha256').update(readFileSync(file)).digest('hex');
      if (actual !== expected) throw new Error(`runtime artifacts: ${file} has SHA-256 ${actual}, the manifest says ${expected}; run \`npm run bundle\``);
    }
    return { ...a, name, path, sourceMapPath };
  };
  const artifacts = { dir: abs, proxy: one('proxy'), worker: one('worker'), launcher: one('launcher') };
  cache.set(key, artifacts);
  return artifacts;
}
