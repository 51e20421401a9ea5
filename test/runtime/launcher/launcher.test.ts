import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRuntimeArtifacts } from '../../../constructs/artifacts/runtime-artifacts';
import { EXIT_BAD_CONFIG, EXIT_CHECKSUM_MISMATCH, EXIT_FETCH_FAILED, LAUNCHER_ENV } from '../../../contract/launcher';
import { LocalArtifactStore } from '../../support/artifact-store';

/**
 * The pods' init step, run as deployed (the launcher bundle under the same Node) against a local
 * stand-in for STS + S3, with the environment the workloads construct and the EKS IRSA webhook give it.
 */
// Each run spawns Node (bounded at 20 s by execFile): seconds on a loaded machine.
jest.setTimeout(60_000);
const artifacts = loadRuntimeArtifacts();
const BUCKET = 'surgeguard-dev-use1-artifacts';
const TOKEN = 'projected-service-account-token';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runLauncher(env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [artifacts.launcher.path], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

describe('launcher (init step of the proxy and worker pods)', () => {
  let store: LocalArtifactStore;
  let work: string;
  let env: Record<string, string>;
  const worker = artifacts.worker;
  const key = `worker/${worker.sha256}/worker.js`;
  const mapKey = `worker/${worker.sha256}/worker.js.map`;

  beforeEach(async () => {
    store = await new LocalArtifactStore(BUCKET, 'us-east-1', TOKEN).start();
    work = mkdtempSync(join(tmpdir(), 'sg-launcher-'));
    writeFileSync(join(work, 'token'), `${TOKEN}\n`);
    env = {
      [LAUNCHER_ENV.bucket]: BUCKET,
      [LAUNCHER_ENV.region]: 'us-east-1',
      [LAUNCHER_ENV.dir]: join(work, 'app'),
      [LAUNCHER_ENV.files]: JSON.stringify([
        { key, sha256: worker.sha256, file: 'worker.js' },
        { key: mapKey, sha256: worker.sourceMap.sha256, file: 'worker.js.map' },
      ]),
      [LAUNCHER_ENV.s3Endpoint]: store.url,
      [LAUNCHER_ENV.stsEndpoint]: `${store.url}/sts/`,
      // What the EKS pod identity webhook injects for IRSA.
      AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/surgeguard-dev-use1-worker',
      AWS_WEB_IDENTITY_TOKEN_FILE: join(work, 'token'),
    };
  });
  afterEach(async () => {
    await store.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('fetches the bundle with the role from the projected token, verifies it and leaves a runnable file', async () => {
    store.objects.set(key, readFileSync(worker.path));
    store.objects.set(mapKey, readFileSync(worker.sourceMapPath));
    const run = await runLauncher(env);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain(`worker.js verified (sha256 ${worker.sha256})`);
    expect(readFileSync(join(work, 'app', 'worker.js')).equals(readFileSync(worker.path))).toBe(true);
    expect(readdirSync(join(work, 'app')).sort()).toEqual(['worker.js', 'worker.js.map']);
    expect(store.requests).toEqual(['POST /sts/', `GET /${BUCKET}/${key}`, `GET /${BUCKET}/${mapKey}`]);
    // What the runtime container then runs: the verified bundle starts (and asks for its config).
    const started = await new Promise<string>((resolve) =>
      execFile(process.execPath, [join(work, 'app', 'worker.js')], { env: { PATH: process.env.PATH ?? '' }, timeout: 20_000 }, (_e, _o, stderr) => resolve(stderr)),
    );
    expect(started).toContain('--config');
  });

  it('refuses to start, with a clear message and no file in place, when the bytes do not match the checksum', async () => {
    const tampered = Buffer.concat([readFileSync(worker.path), Buffer.from('\nprocess.exit(0);\n')]);
    store.objects.set(key, tampered);
    store.objects.set(mapKey, readFileSync(worker.sourceMapPath));
    const run = await runLauncher(env);
    expect(run.code).toBe(EXIT_CHECKSUM_MISMATCH);
    expect(run.stderr).toMatch(
      new RegExp(`launcher: s3://${BUCKET}/${key}: SHA-256 is [0-9a-f]{64}, the deployment names ${worker.sha256}; refusing to start`),
    );
    expect(existsSync(join(work, 'app', 'worker.js'))).toBe(false);
  });

  it('fails (for the kubelet to retry) naming the object when the store does not have it', async () => {
    const run = await runLauncher(env);
    expect(run.code).toBe(EXIT_FETCH_FAILED);
    expect(run.stderr).toContain(`launcher: s3://${BUCKET}/${key}: S3 answered 404 NoSuchKey`);
  });

  it('fails naming the role when STS rejects the service-account token', async () => {
    writeFileSync(join(work, 'token'), 'someone-elses-token');
    const run = await runLauncher(env);
    expect(run.code).toBe(EXIT_FETCH_FAILED);
    expect(run.stderr).toContain('STS AssumeRoleWithWebIdentity for arn:aws:iam::123456789012:role/surgeguard-dev-use1-worker answered 403: token rejected');
  });

  it('stops on a bad configuration naming the variable', async () => {
    const run = await runLauncher({ ...env, [LAUNCHER_ENV.files]: JSON.stringify([{ key, sha256: 'abc', file: 'worker.js' }]) });
    expect(run.code).toBe(EXIT_BAD_CONFIG);
    expect(run.stderr).toContain(`${LAUNCHER_ENV.files}[0].sha256 must be 64 lowercase hex digits`);
  });
});
