import { ARTIFACT_MOUNT_PATH, LAUNCHER_ENV } from '../../contract/launcher';
import { RuntimeArtifactObjects } from '../artifacts/runtime-artifact-objects';
import { RUNTIME_NODE_IMAGE } from '../artifacts/runtime-artifacts';

/** Where the launcher's ConfigMap is mounted in the init container. */
export const LAUNCHER_MOUNT_PATH = '/opt/surgeguard-launcher';
/** Name of the launcher ConfigMap in the app namespace. */
export const LAUNCHER_CONFIG_MAP = 'surgeguard-launcher';
/** Volume names the pod spec gets. */
export const ARTIFACT_VOLUMES = { artifact: 'artifact', launcher: 'launcher' } as const;

/**
 * The pieces of a pod spec that run a bundle from the artifact store: an init container (the pinned
 * Node image running the launcher) that fetches and verifies the bundle into an emptyDir, and the
 * runtime container's image and command (the same pinned image running the verified file).
 * Plain data for the workload construct to place, so the launch step reads in one screen.
 */
export function artifactLaunch(
  objects: RuntimeArtifactObjects,
  opts: { readonly securityContext: Record<string, unknown>; readonly scratchEnv: { name: string; value: string } },
) {
  const bundle = objects.files[0];
  return {
    image: RUNTIME_NODE_IMAGE.reference,
    command: ['node', `${ARTIFACT_MOUNT_PATH}/${bundle.file}`],
    annotations: { 'surgeguard.io/artifact-sha256': objects.sha256 },
    mainMount: { name: ARTIFACT_VOLUMES.artifact, mountPath: ARTIFACT_MOUNT_PATH, readOnly: true },
    initContainer: {
      name: 'fetch-artifact',
      image: RUNTIME_NODE_IMAGE.reference,
      command: ['node', `${LAUNCHER_MOUNT_PATH}/launcher.js`],
      env: [
        { name: LAUNCHER_ENV.bucket, value: objects.bucketName },
        { name: LAUNCHER_ENV.region, value: objects.region },
        { name: LAUNCHER_ENV.files, value: JSON.stringify(objects.files) },
        { name: LAUNCHER_ENV.dir, value: ARTIFACT_MOUNT_PATH },
        opts.scratchEnv,
      ],
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '128Mi' } },
      securityContext: opts.securityContext,
      // `kubectl describe pod` shows the launcher's last words (e.g. the checksum mismatch).
      terminationMessagePolicy: 'FallbackToLogsOnError',
      volumeMount: [
        { name: ARTIFACT_VOLUMES.artifact, mountPath: ARTIFACT_MOUNT_PATH },
        { name: ARTIFACT_VOLUMES.launcher, mountPath: LAUNCHER_MOUNT_PATH, readOnly: true },
      ],
    },
    volumes: [
      { name: ARTIFACT_VOLUMES.artifact, emptyDir: { sizeLimit: '64Mi' } },
      { name: ARTIFACT_VOLUMES.launcher, configMap: { name: LAUNCHER_CONFIG_MAP, defaultMode: '0444' } },
    ],
  };
}
