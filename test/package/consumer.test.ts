import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ArtifactManifest } from '../../constructs/artifacts/runtime-artifacts';
import { usesOnlyAwsProvider, validateStacks, ValidateResult, writeAwsSlice } from '../support/terraform';
import { writeConsumerProject } from '../support/consumer-project';

const run = promisify(execFile);
const repo = resolve(__dirname, '..', '..');

// npm pack (build + bundle + library build), an offline install of the tarball and its peers, two
// compiles, a synth and one terraform validate: about five minutes on a loaded 2-core machine.
const SETUP_TIMEOUT_MS = 20 * 60_000;
const STEP_TIMEOUT_MS = 10 * 60_000;

/** A child process with its own bounded time; stdout and stderr in the error when it fails. */
async function sh(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd, env, timeout: STEP_TIMEOUT_MS, maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/**
 * The environment of the npm commands: this process's, without what an enclosing `npm test` sets for
 * its own script (package fields, lifecycle, local prefix), so `npm pack` and `npm ci` behave as when
 * a person types them; the cache, registry and user config stay.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_(package_|lifecycle_|config_local_prefix$)/i.test(k)));
  delete env.SURGEGUARD_ARTIFACTS_DIR; // the consumer finds the bundles in the package, nowhere else
  return env;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile());
}

/** The peers a consumer installs next to the library (exact versions from this repository's lock). */
const PEERS = ['cdktf', 'constructs', '@cdktf/provider-aws', '@cdktf/provider-kubernetes', '@cdktf/provider-helm'];

describe('the packed library, installed and composed by a fresh cdktf project outside the repository', () => {
  let scratch: string;
  let consumer: string;
  let tarballEntries: string[];
  let manifest: ArtifactManifest;
  let stacks: string;
  let validated: ValidateResult[];
  let compiledWithNode16: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'surgeguard-consumer-'));
    expect(relative(repo, scratch).startsWith('..')).toBe(true);
    // 1. What a publisher runs: `npm pack` (prepare: build; prepack: bundle + library build).
    const packs = join(scratch, 'packs');
    mkdirSync(packs);
    const env = npmEnv();
    await sh('npm', ['pack', '--pack-destination', packs, '--silent'], repo, env);
    const [tarball] = readdirSync(packs).filter((f) => f.endsWith('.tgz'));
    expect(tarball).toBe(`surgeguard-${JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version}.tgz`);
    tarballEntries = (await sh('tar', ['-tzf', join(packs, tarball)], scratch)).split('\n').filter(Boolean).sort();
    manifest = JSON.parse(readFileSync(join(repo, 'dist', 'artifacts', 'manifest.json'), 'utf8')) as ArtifactManifest;

    // 2. A fresh project: the tarball and its peers, installed from the npm cache only.
    consumer = join(scratch, 'consumer');
    mkdirSync(consumer);
    writeConsumerProject(consumer, { repo, tarball: join(packs, tarball), dependencies: PEERS, devDependencies: ['typescript', '@types/node'] });
    await sh('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], consumer, env);

    // 3. The composition example, compiled as a cdktf app's tsconfig does (`cdktf init`'s settings:
    // CommonJS, classic node resolution, so the `typesVersions` map serves `surgeguard/constructs`),
    // type-checked again with node16 resolution (the `exports` map), then synthesized by app.synth().
    copyFileSync(join(repo, 'examples', 'compose-your-own-stack.ts'), join(consumer, 'main.ts'));
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          alwaysStrict: true,
          lib: ['es2018'],
          module: 'CommonJS',
          noEmitOnError: true,
          noImplicitAny: true,
          noImplicitReturns: true,
          noUnusedLocals: true,
          noUnusedParameters: true,
          resolveJsonModule: true,
          strict: true,
          target: 'ES2018',
          skipLibCheck: true,
        },
        include: ['**/*.ts'],
        exclude: ['node_modules', 'cdktf.out'],
      }),
    );
    const tsc = join(consumer, 'node_modules', 'typescript', 'bin', 'tsc');
    await sh(process.execPath, [tsc, '-p', '.'], consumer, env);
    compiledWithNode16 = await sh(process.execPath, [tsc, '-p', '.', '--noEmit', '--module', 'node16', '--moduleResolution', 'node16'], consumer, env);
    await sh(process.execPath, ['main.js'], consumer, env);
    stacks = join(consumer, 'cdktf.out', 'stacks');

    // 4. The real `terraform validate` (offline from the plugin directory) on the AWS stacks and the
    // AWS part of the workloads stack (no Kubernetes provider binary here).
    const names = readdirSync(stacks).sort();
    const tf = (name: string) => JSON.parse(readFileSync(join(stacks, name, 'cdk.tf.json'), 'utf8'));
    const dirs = [
      ...names.filter((n) => usesOnlyAwsProvider(tf(n))).map((n) => join(stacks, n)),
      ...names.filter((n) => !usesOnlyAwsProvider(tf(n))).flatMap((n) => writeAwsSlice(stacks, n) ?? []),
    ];
    validated = await validateStacks(dirs, { parallelism: 1 });
  }, SETUP_TIMEOUT_MS);

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('packs only what a consumer needs: compiled JavaScript with declarations, the deployed bundles and their manifest, no sources, tests, benches or snapshots', () => {
    const paths = tarballEntries.map((e) => e.replace(/^package\//, ''));
    const deployed = ['proxy', 'worker', 'launcher'].flatMap((n) => [manifest.artifacts[n].file, manifest.artifacts[n].sourceMap.file]);
    const allowed = (p: string) =>
      ['package.json', 'README.md', 'CHANGELOG.md', 'dist/artifacts/manifest.json'].includes(p) ||
      deployed.includes(`${p.replace(/^dist\/artifacts\//, '')}`) ||
      /^lib\/.+\.(js|d\.ts|json)$/.test(p);
    expect(paths.filter((p) => !allowed(p))).toEqual([]);
    expect(paths.filter((p) => /(^|\/)(test|bench|__snapshots__|stacks|envs|tools|scripts)\//.test(p) || /(?<!\.d)\.ts$/.test(p))).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining(['lib/constructs/index.js', 'lib/constructs/index.d.ts', 'CHANGELOG.md', ...deployed.map((f) => `dist/artifacts/${f}`)]));
  });

  it('installs the library with one copy of cdktf, constructs and the providers: the consumer\'s (peer dependencies)', () => {
    const installed = join(consumer, 'node_modules', 'surgeguard');
    expect(readdirSync(installed).sort()).toEqual(['CHANGELOG.md', 'README.md', 'dist', 'lib', 'package.json'].sort());
    // No copy of its own: every peer resolves, from inside the library, to the consumer's top-level one.
    expect(existsSync(join(installed, 'node_modules'))).toBe(false);
    for (const peer of PEERS) expect(existsSync(join(consumer, 'node_modules', peer, 'package.json'))).toBe(true);
  });

  it('exposes surgeguard/constructs and nothing internal', async () => {
    const probe = `
      const tryLoad = (id) => { try { require(id); return 'loaded'; } catch (e) { return e.code; } };
      console.log(JSON.stringify({
        entry: Object.keys(require('surgeguard/constructs')).includes('InferenceWorkloads'),
        root: tryLoad('surgeguard'),
        internal: tryLoad('surgeguard/lib/constructs/private/validation.js'),
        contract: tryLoad('surgeguard/lib/contract/service'),
        bundle: tryLoad('surgeguard/dist/artifacts/manifest.json'),
      }));`;
    const out = JSON.parse(await sh(process.execPath, ['-e', probe], consumer, npmEnv()));
    expect(out).toEqual({
      entry: true,
      root: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      internal: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      contract: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      bundle: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
    // Loading the entry loads the provider packages: seconds on a quiet machine, many more on a busy one.
  }, 120_000);

  it('compiles the example against the package\'s declarations with classic and node16 module resolution', () => {
    expect(compiledWithNode16.trim()).toBe('');
    expect(readFileSync(join(consumer, 'main.js'), 'utf8')).toContain('require("surgeguard/constructs")');
  });

  it('synthesizes the workloads with the very bundles this repository built: same SHA-256 in the object keys and Deployments, same bytes uploaded', () => {
    const workloads = JSON.parse(readFileSync(join(stacks, 'my-inference-workloads', 'cdk.tf.json'), 'utf8'));
    const keys = (Object.values(workloads.resource.aws_s3_object) as { key: string }[]).map((o) => o.key);
    for (const name of ['proxy', 'worker'] as const) {
      const a = manifest.artifacts[name];
      expect(keys).toContain(`${name}/${a.sha256}/${name}.js`);
      expect(JSON.stringify(workloads.resource.kubernetes_deployment_v1)).toContain(a.sha256);
    }
    const uploaded = filesUnder(join(stacks, 'my-inference-workloads', 'assets')).map((f) => sha256(join(stacks, 'my-inference-workloads', 'assets', f)));
    expect(uploaded).toEqual(expect.arrayContaining([manifest.artifacts.proxy.sha256, manifest.artifacts.worker.sha256]));
    const launcher = (Object.values(workloads.resource.kubernetes_config_map_v1) as { data?: Record<string, string> }[]).find((c) => c.data?.['launcher.js']);
    expect(createHash('sha256').update(launcher!.data!['launcher.js']).digest('hex')).toBe(manifest.artifacts.launcher.sha256);
  });

  it('passes terraform validate on every AWS stack of the consumer app, without errors or warnings', () => {
    expect(validated.map((r) => r.stack).sort()).toEqual(['my-inference', 'my-inference-workloads-aws']);
    expect(validated.filter((r) => !r.valid || r.warningCount > 0).map((r) => `${r.stack}: ${r.diagnostics.join('; ')}`)).toEqual([]);
  });
});
