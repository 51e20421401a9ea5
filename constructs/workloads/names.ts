import { MODEL_SERVER_CONTRACT, WORKLOAD_NAMES } from '../../contract/service';
import { version as PACKAGE_VERSION } from '../../package.json';

/**
 * Runtime images until the artifacts issue wires the built artifacts in: the tag follows the
 * package version, so a release changes the synth output visibly.
 */
export const DEFAULT_RUNTIME_IMAGES = {
  proxy: `ghcr.io/surgeguard/proxy:${PACKAGE_VERSION}`,
  worker: `ghcr.io/surgeguard/worker:${PACKAGE_VERSION}`,
} as const;

/** In-cluster base URL of the model servers' headless Service in `namespace`. */
export function modelServerUrl(namespace: string): string {
  return `http://${WORKLOAD_NAMES.modelServer}.${namespace}.svc.cluster.local:${MODEL_SERVER_CONTRACT.port}`;
}

/**
 * The only writable directory of a container (the root filesystem is read-only): an emptyDir,
 * named by TMPDIR. Not /tmp, so that synth output holds no path that looks like a host's temp dir.
 */
export const SCRATCH_DIR = '/scratch';
