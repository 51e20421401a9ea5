import { ArtifactFile, EXIT_BAD_CONFIG, EXIT_CHECKSUM_MISMATCH, EXIT_FETCH_FAILED, LAUNCHER_ENV } from '../../contract/launcher';
import { resolveCredentials } from './credentials';
import { ChecksumMismatchError, fetchArtifacts } from './fetch-artifacts';

/**
 * The init step of every proxy and worker pod (bundled as `launcher`, run by the same pinned Node
 * image as the runtime): fetch the runtime's bundle and source map from the artifact bucket with the
 * pod's own IAM role, verify each against the SHA-256 the deployment names, write them to the shared
 * volume. Exit 0 = verified and in place; 3 = checksum mismatch (the pod does not start);
 * 1 = fetch failed (the kubelet retries); 2 = bad configuration.
 */
function parseFiles(raw: string | undefined): ArtifactFile[] {
  if (!raw) throw new Error(`${LAUNCHER_ENV.files} is not set`);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error(`${LAUNCHER_ENV.files} is not JSON`);
  }
  if (!Array.isArray(value) || value.length === 0) throw new Error(`${LAUNCHER_ENV.files} must be a non-empty list`);
  return value.map((v: Partial<ArtifactFile>, i) => {
    if (typeof v.key !== 'string' || v.key === '') throw new Error(`${LAUNCHER_ENV.files}[${i}].key must be an object key`);
    if (typeof v.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(v.sha256)) throw new Error(`${LAUNCHER_ENV.files}[${i}].sha256 must be 64 lowercase hex digits`);
    if (typeof v.file !== 'string' || !/^[A-Za-z0-9._-]+$/.test(v.file)) throw new Error(`${LAUNCHER_ENV.files}[${i}].file must be a plain file name`);
    return { key: v.key, sha256: v.sha256, file: v.file };
  });
}

async function main(env: NodeJS.ProcessEnv): Promise<number> {
  let files: ArtifactFile[];
  const bucket = env[LAUNCHER_ENV.bucket];
  const region = env[LAUNCHER_ENV.region];
  const dir = env[LAUNCHER_ENV.dir];
  try {
    if (!bucket) throw new Error(`${LAUNCHER_ENV.bucket} is not set`);
    if (!region) throw new Error(`${LAUNCHER_ENV.region} is not set`);
    if (!dir) throw new Error(`${LAUNCHER_ENV.dir} is not set`);
    files = parseFiles(env[LAUNCHER_ENV.files]);
  } catch (err) {
    process.stderr.write(`launcher: ${(err as Error).message}\n`);
    return EXIT_BAD_CONFIG;
  }
  try {
    const credentials = await resolveCredentials(env, region, fetch, env[LAUNCHER_ENV.stsEndpoint]);
    const written = await fetchArtifacts({ bucket, region, files, dir, credentials, fetch, now: () => new Date(), s3Endpoint: env[LAUNCHER_ENV.s3Endpoint] });
    for (let i = 0; i < files.length; i++) process.stdout.write(`launcher: ${written[i]} verified (sha256 ${files[i].sha256})\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`launcher: ${(err as Error).message}\n`);
    return err instanceof ChecksumMismatchError ? EXIT_CHECKSUM_MISMATCH : EXIT_FETCH_FAILED;
  }
}

main(process.env).then((code) => process.exit(code));
