import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../../..');

describe('test hygiene', () => {
  it('a jest run whose tests use cdktf Testing.app() and fullSynth() leaves nothing in the temp dir', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'surgeguard-hygiene-'));
    const cache = mkdtempSync(join(tmpdir(), 'surgeguard-hygiene-cache-'));
    try {
      // The project's jest config (global setup/teardown included), restricted to a fixture that
      // makes the folders cdktf's testing helpers create.
      const config = require(join(root, 'jest.config.js')) as { globalSetup: string; globalTeardown: string; projects: Record<string, unknown>[] };
      const iac = config.projects.find((p) => p.displayName === 'iac')!;
      const fixtureConfig = {
        ...iac,
        globalSetup: config.globalSetup,
        globalTeardown: config.globalTeardown,
        rootDir: root,
        displayName: 'hygiene',
        testMatch: ['<rootDir>/test/support/fixtures/*.fixture.ts'],
      };
      const run = spawnSync(
        process.execPath,
        [join(root, 'node_modules/jest/bin/jest.js'), '--ci', '--cacheDirectory', cache, '--config', JSON.stringify(fixtureConfig)],
        { cwd: root, env: { ...process.env, TMPDIR: scratch }, encoding: 'utf8', timeout: 120_000 },
      );
      expect(run.stderr).toContain('1 passed');
      expect(run.status).toBe(0);
      expect(readdirSync(scratch)).toEqual([]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
