/**
 * What the workloads construct and the launcher (the pods' init step) agree on: the environment
 * variables the init container gets, and where the fetched bundle lands.
 */
export const LAUNCHER_ENV = {
  /** Private bucket holding the artifacts (`<bucket name>`). */
  bucket: 'SURGEGUARD_ARTIFACT_BUCKET',
  /** Region of the bucket (and of STS). */
  region: 'SURGEGUARD_ARTIFACT_REGION',
  /** JSON list of `{ key, sha256, file }`: object key, expected SHA-256 (hex), file name to write. */
  files: 'SURGEGUARD_ARTIFACT_FILES',
  /** Directory the files are written to (an emptyDir the runtime container mounts read-only). */
  dir: 'SURGEGUARD_ARTIFACT_DIR',
  /** Endpoint overrides (a local stand-in in tests; a VPC interface endpoint URL if ever needed). */
  s3Endpoint: 'SURGEGUARD_S3_ENDPOINT',
  stsEndpoint: 'SURGEGUARD_STS_ENDPOINT',
} as const;

/** Where the runtime container finds the bundle (mount path of the shared emptyDir). */
export const ARTIFACT_MOUNT_PATH = '/opt/surgeguard';

/** One file the launcher fetches and verifies. */
export interface ArtifactFile {
  /** Object key in the bucket. */
  readonly key: string;
  /** Expected SHA-256 of the object's bytes, lowercase hex. */
  readonly sha256: string;
  /** File name written in the artifact directory (no path separators). */
  readonly file: string;
}

/** Exit status of the launcher when an artifact does not match its checksum (the pod must not start). */
export const EXIT_CHECKSUM_MISMATCH = 3;
/** Exit status when the artifact could not be fetched (kubelet retries the init container). */
export const EXIT_FETCH_FAILED = 1;
/** Exit status on a bad launcher configuration. */
export const EXIT_BAD_CONFIG = 2;
