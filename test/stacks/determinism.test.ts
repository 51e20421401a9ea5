import { execFileSync } from 'child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'fs';
import { tmpdir } from 'os';
import { join, relative, resolve } from 'path';

// Whole-app synths take seconds on a loaded 2-core machine; the default 5 s is too tight.
jest.setTimeout(60_000);

const repo = resolve(__dirname, '..', '..');

/** Every file under `dir`, by relative path, with its bytes. */
function readTree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d).sort()) {
      const p = join(d, entry);
      if (statSync(p).isDirectory()) walk(p);
      else files.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return files;
}

function expectSameTree(a: Map<string, Buffer>, b: Map<string, Buffer>): void {
  expect([...b.keys()]).toEqual([...a.keys()]);
  const different = [...a.keys()].filter((k) => !a.get(k)!.equals(b.get(k)!));
  expect(different).toEqual([]);
}

/** A checkout of the compiled app at `dir` (dist/, cdktf.json, package.json; node_modules linked). */
function makeCheckout(dir: string): void {
  mkdirSync(dir, { recursive: true });
  cpSync(join(repo, 'dist'), join(dir, 'dist'), { recursive: true });
  for (const f of ['cdktf.json', 'package.json']) cpSync(join(repo, f), join(dir, f));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
}

describe('deterministic synth', () => {
  let scratch: string;
  let reference: Map<string, Buffer> | undefined;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'surgeguard-determinism-'));
    if (!existsSync(join(repo, 'dist', 'main.js'))) {
      throw new Error('dist/main.js is missing: run `npm run build` first (npm test does)');
    }
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('writes byte-identical output when the same tree is synthesized twice, from two checkout paths, with no absolute path in it', () => {
    const checkouts = [join(scratch, 'a', 'surgeguard'), join(scratch, 'b', 'deeper', 'path', 'other-checkout')];
    const trees = checkouts.map((dir) => {
      makeCheckout(dir);
      execFileSync(process.execPath, ['dist/main.js'], {
        cwd: dir,
        env: { ...process.env, SURGEGUARD_ENV: 'all' },
        stdio: 'pipe',
        timeout: 60_000,
      });
      return readTree(join(dir, 'cdktf.out'));
    });
    expectSameTree(trees[0], trees[1]);
    expect(trees[0].size).toBeGreaterThan(18);
    for (const [file, bytes] of trees[0]) {
      const text = bytes.toString('utf8');
      for (const path of [...checkouts, scratch, repo]) {
        if (text.includes(path)) throw new Error(`${file} contains the absolute path ${path}`);
      }
    }
    reference = trees[0];
  }, 60_000);

  it('gives the same output through `cdktf synth` (cdktf.json) as through node dist/main.js', () => {
    if (!reference) throw new Error('needs the checkout synth of the previous test');
    const dir = join(scratch, 'cli', 'surgeguard');
    makeCheckout(dir);
    execFileSync(join(dir, 'node_modules', '.bin', 'cdktf'), ['synth'], {
      cwd: dir,
      env: { ...process.env, SURGEGUARD_ENV: 'all', CHECKPOINT_DISABLE: '1', DISABLE_VERSION_CHECK: '1', CI: 'true' },
      stdio: 'pipe',
      // The CLI synth of every environment takes seconds on an idle machine and over a minute on a
      // 2-core machine shared with other test runs (load average 20+): bounded, with room for that.
      timeout: 180_000,
    });
    expectSameTree(reference, readTree(join(dir, 'cdktf.out')));
  }, 200_000);
});
