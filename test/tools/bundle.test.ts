import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactManifest, loadRuntimeArtifacts, RUNTIME_NODE_IMAGE } from '../../constructs/artifacts/runtime-artifacts';
import { BUNDLE_ENTRIES, BUNDLE_TARGET, bundleRuntimes, sha256 } from '../../tools/bundle';
import { copyCheckout, REPO_ROOT } from '../support/checkout';

jest.setTimeout(180_000);

/** Every file a bundle run wrote, by path relative to its output directory. */
function filesOf(outDir: string, manifest: ArtifactManifest): Map<string, Buffer> {
  const files = new Map<string, Buffer>([['manifest.json', readFileSync(join(outDir, 'manifest.json'))]]);
  for (const a of Object.values(manifest.artifacts)) {
    files.set(a.file, readFileSync(join(outDir, a.file)));
    files.set(a.sourceMap.file, readFileSync(join(outDir, a.sourceMap.file)));
  }
  return files;
}

describe('npm run bundle', () => {
  const cleanups: (() => void)[] = [];
  afterAll(() => cleanups.forEach((c) => c()));

  it('writes byte-identical bundles and manifests from two checkouts at different paths', async () => {
    const a = copyCheckout('sg-bundle-a-');
    const b = copyCheckout('sg-bundle-b-', ['deeper', 'path']);
    cleanups.push(a.remove, b.remove);
    const here = mkdtempSync(join(tmpdir(), 'sg-bundle-here-'));
    cleanups.push(() => rmSync(here, { recursive: true, force: true }));
    const ma = await bundleRuntimes({ root: a.root });
    const mb = await bundleRuntimes({ root: b.root });
    const mh = await bundleRuntimes({ root: REPO_ROOT, outDir: here });
    expect(mb).toEqual(ma);
    expect(mh).toEqual(ma);
    const fa = filesOf(join(a.root, 'dist/artifacts'), ma);
    const fb = filesOf(join(b.root, 'dist/artifacts'), mb);
    const fh = filesOf(here, mh);
    expect([...fb.keys()]).toEqual([...fa.keys()]);
    for (const [path, bytes] of fa) {
      expect({ path, same: bytes.equals(fb.get(path)!) }).toEqual({ path, same: true });
      expect({ path, same: bytes.equals(fh.get(path)!) }).toEqual({ path, same: true });
      // No path of the machine that built it.
      expect(bytes.toString('utf8')).not.toContain(a.root);
    }
  });

  it('names each bundle by the SHA-256 of its content and records its source map', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sg-bundle-names-'));
    cleanups.push(() => rmSync(out, { recursive: true, force: true }));
    const manifest = await bundleRuntimes({ root: REPO_ROOT, outDir: out });
    expect(Object.keys(manifest.artifacts)).toEqual(Object.keys(BUNDLE_ENTRIES));
    for (const [name, a] of Object.entries(manifest.artifacts)) {
      const bytes = readFileSync(join(out, a.file));
      expect(a.file).toBe(`${name}/${sha256(bytes)}/${name}.js`);
      expect(a.sha256).toBe(sha256(bytes));
      expect(a.bytes).toBe(bytes.byteLength);
      expect(sha256(readFileSync(join(out, a.sourceMap.file)))).toBe(a.sourceMap.sha256);
      // Node finds the map next to the bundle (--enable-source-maps).
      expect(bytes.toString('utf8').trimEnd().endsWith(`//# sourceMappingURL=${name}.js.map`)).toBe(true);
    }
    // loadRuntimeArtifacts reads the same manifest back, checking every hash.
    const loaded = loadRuntimeArtifacts(out);
    expect(loaded.proxy.sha256).toBe(manifest.artifacts.proxy.sha256);
    expect(loaded.worker.path).toBe(join(out, manifest.artifacts.worker.file));
  });

  it('targets the Node version of the pinned runtime image', () => {
    expect(BUNDLE_TARGET).toBe(`node${RUNTIME_NODE_IMAGE.nodeVersion}`);
    expect(RUNTIME_NODE_IMAGE.tag).toMatch(new RegExp(`^node:${RUNTIME_NODE_IMAGE.nodeVersion.replace('.', '\\.')}\\.\\d+-`));
    expect(RUNTIME_NODE_IMAGE.reference).toBe(`docker.io/library/node@${RUNTIME_NODE_IMAGE.digest}`);
    expect(RUNTIME_NODE_IMAGE.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('refuses bundles whose bytes no longer match the manifest, naming the file and the command', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sg-bundle-stale-'));
    cleanups.push(() => rmSync(out, { recursive: true, force: true }));
    const manifest = await bundleRuntimes({ root: REPO_ROOT, outDir: out });
    const { writeFileSync, appendFileSync } = await import('node:fs');
    appendFileSync(join(out, manifest.artifacts.worker.file), '\n// edited after bundling\n');
    expect(() => loadRuntimeArtifacts(out)).toThrow(/worker\.js has SHA-256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}; run `npm run bundle`/);
    writeFileSync(join(out, 'manifest.json'), JSON.stringify({ format: 1, target: BUNDLE_TARGET, artifacts: {} }));
    expect(() => loadRuntimeArtifacts(out)).toThrow(/lists no "proxy" bundle; run `npm run bundle`/);
    expect(() => loadRuntimeArtifacts(join(out, 'nowhere'))).toThrow(/manifest\.json not found; run `npm run bundle`/);
  });
});
