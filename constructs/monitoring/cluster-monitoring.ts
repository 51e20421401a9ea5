import { ClusterRoleBindingV1 } from '@cdktf/provider-kubernetes/lib/cluster-role-binding-v1';
import { checkImagePinned } from '../private/images';
import { PropsValidator } from '../private/validation';
import { ClusterRoleV1 } from '@cdktf/provider-kubernetes/lib/cluster-role-v1';
import { ConfigMapV1 } from '@cdktf/provider-kubernetes/lib/config-map-v1';
import { DeploymentV1 } from '@cdktf/provider-kubernetes/lib/deployment-v1';
import { ServiceAccountV1 } from '@cdktf/provider-kubernetes/lib/service-account-v1';
import { ServiceV1 } from '@cdktf/provider-kubernetes/lib/service-v1';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { DASHBOARDS } from '../../monitoring/dashboards';
import { NODE_POOL_LABEL } from '../cluster/node-group';
import { SCRAPER_KUBERNETES_USER } from './monitoring';

/** uid of the Prometheus data source the dashboards refer to. */
export const DATASOURCE_UID = 'amp';

/** The repository's dashboards (monitoring/dashboards/*.json), file name -> JSON text. */
export function loadDashboards(): Record<string, string> {
  return Object.fromEntries(Object.entries(DASHBOARDS).map(([file, d]) => [file, `${JSON.stringify(d, null, 2)}\n`]));
}

/**
 * Grafana 12.0.0 by digest: the multi-arch index of docker.io/grafana/grafana:12.0.0, as pinned in
 * public deployment manifests (docker-compose pins checked by their projects' CI).
 */
export const DEFAULT_GRAFANA_IMAGE = 'grafana/grafana:12.0.0@sha256:263cbefd5d9b179893c47c415daab4da5c1f3d6770154741eca4f45c81119884';

export interface ClusterMonitoringProps {
  /** Namespace of Grafana. */
  readonly namespace: string;
  /** Query endpoint of the Amazon Managed Prometheus workspace (`Monitoring.prometheusEndpoint`). */
  readonly prometheusEndpoint: string;
  /** Region of the workspace (SigV4). */
  readonly region: string;
  /** IAM role (IRSA) Grafana queries the workspace with (`Monitoring.grantQuery`). */
  readonly grafanaRoleArn: string;
  /**
   * Grafana image, pinned by digest.
   * @default DEFAULT_GRAFANA_IMAGE
   */
  readonly grafanaImage?: string;
  /**
   * Dashboards, file name -> JSON.
   * @default loadDashboards() (monitoring/dashboards/*.json)
   */
  readonly dashboards?: Readonly<Record<string, string>>;
}

/** Name of the Grafana Deployment and Service. */
export const GRAFANA_NAME = 'surgeguard-grafana';
/** Service account the Grafana pods run as (the subject of the IRSA role's trust). */
export const GRAFANA_SERVICE_ACCOUNT = 'surgeguard-grafana';

/**
 * The in-cluster side of monitoring: the RBAC the managed Prometheus collector needs to discover
 * and scrape pods, and a read-only Grafana with the AMP data source (SigV4 through IRSA) and the
 * repository's dashboards provisioned from ConfigMaps. Grafana has no login and no admin: anonymous
 * Viewer only, reached with `kubectl port-forward` (so cluster RBAC is the access control), and
 * dashboards change only through the repository.
 */
export class ClusterMonitoring extends Construct {
  public readonly grafana: DeploymentV1;
  public readonly grafanaService: ServiceV1;
  public readonly dashboardsConfigMap: ConfigMapV1;
  public readonly scraperRole: ClusterRoleV1;

  constructor(scope: Construct, id: string, props: ClusterMonitoringProps) {
    super(scope, id);
    const grafanaImage = props.grafanaImage ?? DEFAULT_GRAFANA_IMAGE;
    checkImagePinned(new PropsValidator('ClusterMonitoring', id), 'grafanaImage', grafanaImage);
    const dashboards = props.dashboards ?? loadDashboards();
    const v: PropsValidator = new PropsValidator('ClusterMonitoring', id);
    if (Object.keys(dashboards).length === 0) v.fail('dashboards', 'must hold at least one dashboard');
    for (const [file, json] of Object.entries(dashboards)) {
      let parsed: { uid?: unknown };
      try {
        parsed = JSON.parse(json);
      } catch (err) {
        v.fail(`dashboards["${file}"]`, `is not JSON: ${(err as Error).message}`);
      }
      if (typeof parsed.uid !== 'string') v.fail(`dashboards["${file}"]`, 'has no uid');
    }

    // RBAC of the managed collector (user mapped by Monitoring's EKS access entry).
    this.scraperRole = new ClusterRoleV1(this, 'ScraperRole', {
      metadata: { name: 'aps-collector-role' },
      rule: [
        { apiGroups: [''], resources: ['nodes', 'nodes/proxy', 'nodes/metrics', 'services', 'endpoints', 'pods', 'ingresses', 'configmaps'], verbs: ['describe', 'get', 'list', 'watch'] },
        { apiGroups: ['extensions', 'networking.k8s.io'], resources: ['ingresses/status', 'ingresses'], verbs: ['describe', 'get', 'list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        { nonResourceUrls: ['/metrics'], verbs: ['get'] },
      ],
    });
    new ClusterRoleBindingV1(this, 'ScraperBinding', {
      metadata: { name: 'aps-collector-user-role-binding' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: this.scraperRole.metadata.name },
      subject: [{ kind: 'User', name: SCRAPER_KUBERNETES_USER, apiGroup: 'rbac.authorization.k8s.io' }],
    });

    const labels = { 'app.kubernetes.io/name': GRAFANA_NAME, 'app.kubernetes.io/part-of': 'surgeguard' };
    const provisioning = new ConfigMapV1(this, 'GrafanaProvisioning', {
      metadata: { name: `${GRAFANA_NAME}-provisioning`, namespace: props.namespace, labels },
      data: {
        'datasources.yaml': stringify({
          apiVersion: 1,
          datasources: [
            {
              name: 'Amazon Managed Prometheus',
              uid: DATASOURCE_UID,
              type: 'prometheus',
              access: 'proxy',
              url: props.prometheusEndpoint,
              isDefault: true,
              editable: false,
              jsonData: { httpMethod: 'POST', sigV4Auth: true, sigV4AuthType: 'default', sigV4Region: props.region },
            },
          ],
        }),
        'dashboards.yaml': stringify({
          apiVersion: 1,
          providers: [{ name: 'surgeguard', type: 'file', disableDeletion: true, allowUiUpdates: false, options: { path: '/var/lib/grafana/dashboards' } }],
        }),
      },
    });
    this.dashboardsConfigMap = new ConfigMapV1(this, 'Dashboards', {
      metadata: { name: `${GRAFANA_NAME}-dashboards`, namespace: props.namespace, labels },
      data: { ...dashboards },
    });
    const sa = new ServiceAccountV1(this, 'GrafanaServiceAccount', {
      metadata: { name: GRAFANA_SERVICE_ACCOUNT, namespace: props.namespace, labels, annotations: { 'eks.amazonaws.com/role-arn': props.grafanaRoleArn } },
    });
    this.grafana = new DeploymentV1(this, 'Grafana', {
      metadata: { name: GRAFANA_NAME, namespace: props.namespace, labels },
      spec: {
        replicas: '1',
        selector: { matchLabels: { 'app.kubernetes.io/name': GRAFANA_NAME } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: sa.metadata.name,
            nodeSelector: { [NODE_POOL_LABEL]: 'cpu' },
            securityContext: { runAsNonRoot: true, runAsUser: '472', runAsGroup: '472', fsGroup: '472', seccompProfile: { type: 'RuntimeDefault' } },
            container: [
              {
                name: 'grafana',
                image: grafanaImage,
                port: [{ name: 'http', containerPort: 3000 }],
                env: [
                  { name: 'GF_AUTH_ANONYMOUS_ENABLED', value: 'true' },
                  { name: 'GF_AUTH_ANONYMOUS_ORG_ROLE', value: 'Viewer' },
                  { name: 'GF_AUTH_DISABLE_LOGIN_FORM', value: 'true' },
                  { name: 'GF_AUTH_BASIC_ENABLED', value: 'false' },
                  { name: 'GF_AUTH_SIGV4_AUTH_ENABLED', value: 'true' },
                  { name: 'GF_USERS_ALLOW_SIGN_UP', value: 'false' },
                  { name: 'GF_ANALYTICS_REPORTING_ENABLED', value: 'false' },
                  { name: 'GF_PATHS_PROVISIONING', value: '/etc/grafana/provisioning' },
                  { name: 'AWS_REGION', value: props.region },
                  { name: 'TMPDIR', value: '/scratch' },
                ],
                resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '256Mi' } },
                readinessProbe: { httpGet: { path: '/api/health', port: '3000' }, periodSeconds: 10 },
                livenessProbe: { httpGet: { path: '/api/health', port: '3000' }, periodSeconds: 20, failureThreshold: 3 },
                securityContext: { allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
                volumeMount: [
                  { name: 'provisioning', mountPath: '/etc/grafana/provisioning/datasources/datasources.yaml', subPath: 'datasources.yaml', readOnly: true },
                  { name: 'provisioning', mountPath: '/etc/grafana/provisioning/dashboards/dashboards.yaml', subPath: 'dashboards.yaml', readOnly: true },
                  { name: 'dashboards', mountPath: '/var/lib/grafana/dashboards', readOnly: true },
                  { name: 'data', mountPath: '/var/lib/grafana' },
                  { name: 'tmp', mountPath: '/scratch' },
                ],
              },
            ],
            volume: [
              { name: 'provisioning', configMap: { name: provisioning.metadata.name } },
              { name: 'dashboards', configMap: { name: this.dashboardsConfigMap.metadata.name } },
              { name: 'data', emptyDir: {} },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    });
    this.grafanaService = new ServiceV1(this, 'GrafanaService', {
      metadata: { name: GRAFANA_NAME, namespace: props.namespace, labels },
      spec: { type: 'ClusterIP', selector: { 'app.kubernetes.io/name': GRAFANA_NAME }, port: [{ name: 'http', port: 3000, targetPort: '3000' }] },
    });
  }
}
