import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(__dirname, '..', '..');

interface Release {
  readonly version: string;
  readonly body: string;
}

/** `## [x.y.z] - date` sections of CHANGELOG.md, newest first as written. */
function releases(changelog: string): Release[] {
  const parts = changelog.split(/^## /m).slice(1);
  return parts.map((p) => ({ version: /^\[([^\]]+)\]/.exec(p)?.[1] ?? p.split('\n')[0], body: p }));
}

function semver(v: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  if (!m) throw new Error(`CHANGELOG.md: "${v}" is not a semantic version`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

describe('CHANGELOG.md', () => {
  const changelog = readFileSync(join(repo, 'CHANGELOG.md'), 'utf8');
  const all = releases(changelog);

  it('starts with an Unreleased section, then releases newest first, each a semantic version', () => {
    expect(all[0].version).toBe('Unreleased');
    const versions = all.slice(1).map((r) => semver(r.version));
    expect(versions.length).toBeGreaterThan(0);
    for (let i = 1; i < versions.length; i++) {
      const [a, b] = [versions[i - 1], versions[i]];
      expect(a[0] * 1e8 + a[1] * 1e4 + a[2]).toBeGreaterThan(b[0] * 1e8 + b[1] * 1e4 + b[2]);
    }
  });

  it('has a section for the version package.json declares', () => {
    const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
    expect(all.map((r) => r.version)).toContain(version);
  });

  it('states for every release whether synthesized resources change, whether any is replaced, and whether the bundles changed', () => {
    const missing = all.slice(1).flatMap((r) =>
      ['**Synth:**', '**Replaces:**', '**Bundles:**'].filter((field) => !new RegExp(`^### Effect$[\\s\\S]*^- ${field.replace(/\*/g, '\\*')} \\S`, 'm').test(r.body)).map((f) => `${r.version}: ${f}`),
    );
    expect(missing).toEqual([]);
  });
});
