// @ts-check
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

/**
 * One temporary directory per jest run, removed when the run ends (globalSetup/globalTeardown).
 *
 * cdktf's `Testing.app()` (and `Testing.fullSynth`/`synthScope`) makes an outdir with
 * `mkdtempSync(os.tmpdir() + '/cdktf.outdir.')` for every app and never removes it: ~134 folders
 * per `npm test`. `os.tmpdir()` reads the process environment's TMPDIR on every call, and test
 * files cannot change that environment from inside jest's sandbox (their `process.env` is a
 * copy), so the run's TMPDIR is set here, in the parent, before the workers are forked: every
 * outdir (and anything else a test or a spawned process forgets in the temp dir) lands in one
 * private folder that the teardown removes. Other runs sharing /tmp are never touched.
 */
async function setup() {
  const previous = process.env.TMPDIR;
  const dir = mkdtempSync(join(tmpdir(), 'surgeguard-jest-'));
  process.env.SURGEGUARD_JEST_PREVIOUS_TMPDIR = previous ?? '';
  process.env.SURGEGUARD_JEST_TMPDIR = dir;
  process.env.TMPDIR = dir;
}

async function teardown() {
  const dir = process.env.SURGEGUARD_JEST_TMPDIR;
  const previous = process.env.SURGEGUARD_JEST_PREVIOUS_TMPDIR;
  if (previous) process.env.TMPDIR = previous;
  else delete process.env.TMPDIR;
  if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
}

module.exports = { setup, teardown };
