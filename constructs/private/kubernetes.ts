import { SCRAPE_ANNOTATIONS } from '../monitoring/monitoring';

/** Pieces of pod specs the workload constructs share. */

/** Label that names a workload; selectors and NetworkPolicies match on it. */
export const NAME_LABEL = 'app.kubernetes.io/name';
const ZONE_KEY = 'topology.kubernetes.io/zone';
/** Terraform provider taint effects (EKS API spelling) -> Kubernetes spelling. */
export const EFFECTS: Record<string, string> = { NO_SCHEDULE: 'NoSchedule', NO_EXECUTE: 'NoExecute', PREFER_NO_SCHEDULE: 'PreferNoSchedule' };

/** Pod security context of the runtimes: non-root, RuntimeDefault seccomp, plus safe sysctls. */
export const RUNTIME_POD_SECURITY = {
  runAsNonRoot: true,
  runAsUser: '10001',
  runAsGroup: '10001',
  fsGroup: '10001',
  seccompProfile: { type: 'RuntimeDefault' },
};
/** Container security context of every surgeguard container. */
export const CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** Pod annotations that let the cluster's Prometheus scrape `port` at `path`. */
export function scrapeAnnotations(port: number, path: string): Record<string, string> {
  return { [SCRAPE_ANNOTATIONS.scrape]: 'true', [SCRAPE_ANNOTATIONS.port]: String(port), [SCRAPE_ANNOTATIONS.path]: path };
}

/** An HTTP GET probe with a 3 s timeout. */
export function httpProbe(path: string, port: number, periodSeconds: number, failureThreshold: number) {
  return { httpGet: { path, port: String(port) }, periodSeconds, failureThreshold, timeoutSeconds: 3 };
}

/** Spread the pods of workload `name` over zones (max skew 1). */
export function zoneSpread(name: string, whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway') {
  return { maxSkew: 1, topologyKey: ZONE_KEY, whenUnsatisfiable, labelSelector: [{ matchLabels: { [NAME_LABEL]: name } }] };
}
