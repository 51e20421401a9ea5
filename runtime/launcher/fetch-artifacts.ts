import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArtifactFile } from '../../contract/launcher';
import { AwsCredentials, FetchLike } from './credentials';
import { signRequest } from './sigv4';

/** The bytes fetched did not hash to what the deployment names: the pod must not start. */
export class ChecksumMismatchError extends Error {}
/** Could not fetch (network, permissions, missing object): worth a retry by the kubelet. */
export class FetchFailedError extends Error {}

export interface FetchArtifactsOptions {
  readonly bucket: string;
  readonly region: string;
  readonly files: readonly ArtifactFile[];
  readonly dir: string;
  readonly credentials: AwsCredentials;
  readonly fetch: FetchLike;
  readonly now: () => Date;
  /** Path-style endpoint (`http://127.0.0.1:9000`); virtual-hosted `https://<bucket>.s3.<region>.amazonaws.com` by default. */
  readonly s3Endpoint?: string;
}

/** The object URL of `key`. */
export function objectUrl(bucket: string, region: string, key: string, endpoint?: string): URL {
  const path = key.split('/').map(encodeURIComponent).join('/');
  return endpoint ? new URL(`${endpoint.replace(/\/$/, '')}/${bucket}/${path}`) : new URL(`https://${bucket}.s3.${region}.amazonaws.com/${path}`);
}

/**
 * Fetches every file, checks its SHA-256 and only then moves it into place (a file with the final
 * name is always a verified one). Returns the written paths.
 */
export async function fetchArtifacts(o: FetchArtifactsOptions): Promise<string[]> {
  mkdirSync(o.dir, { recursive: true });
  const written: string[] = [];
  for (const f of o.files) {
    const source = `s3://${o.bucket}/${f.key}`;
    const url = objectUrl(o.bucket, o.region, f.key, o.s3Endpoint);
    const headers = signRequest({ method: 'GET', url, region: o.region, service: 's3', credentials: o.credentials, now: o.now() });
    let bytes: Buffer;
    try {
      const res = await o.fetch(url.toString(), { method: 'GET', headers });
      if (!res.ok) {
        const text = await res.text().catch(() => '');
        const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
        throw new FetchFailedError(`${source}: S3 answered ${res.status}${code ? ` ${code}` : ''}`);
      }
      bytes = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      if (err instanceof FetchFailedError) throw err;
      throw new FetchFailedError(`${source}: ${(err as Error).message}`);
    }
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== f.sha256) {
      throw new ChecksumMismatchError(
        `${source}: SHA-256 is ${actual}, the deployment names ${f.sha256}; refusing to start (the artifact store does not hold the bytes this deployment was synthesized with)`,
      );
    }
    const target = join(o.dir, f.file);
    const partial = `${target}.partial`;
    writeFileSync(partial, bytes, { mode: 0o444 });
    rmSync(target, { force: true });
    renameSync(partial, target);
    written.push(target);
  }
  return written;
}
