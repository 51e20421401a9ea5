import { Construct } from 'constructs';
import { ClusterRoleBindingV1 } from '@cdktf/provider-kubernetes/lib/cluster-role-binding-v1';
import { ClusterRoleV1 } from '@cdktf/provider-kubernetes/lib/cluster-role-v1';
import { DeploymentV1 } from '@cdktf/provider-kubernetes/lib/deployment-v1';
import { ServiceAccountV1 } from '@cdktf/provider-kubernetes/lib/service-account-v1';
import { checkImagePinned } from '../private/images';
import { PropsValidator } from '../private/validation';
import { NODE_POOL_LABEL } from './node-group';
import { NODE_TERMINATION_HANDLER_SERVICE_ACCOUNT } from './spot-interruption-queue';

/**
 * The release the construct is written for. No published digest of it could be verified while
 * writing this, so the image is a required prop: pin it yourself
 * (`crane digest public.ecr.aws/aws-ec2/aws-node-termination-handler:v1.25.3`) and pass
 * `public.ecr.aws/aws-ec2/aws-node-termination-handler:v1.25.3@sha256:<digest>`.
 */
export const NODE_TERMINATION_HANDLER_RELEASE = 'public.ecr.aws/aws-ec2/aws-node-termination-handler:v1.25.3';

export interface NodeTerminationHandlerProps {
  /** URL of the SQS queue receiving EC2 interruption events (`InferenceCluster.interruptionQueue.url`). */
  readonly queueUrl: string;
  /** ARN of the IRSA role allowed to read that queue (`InferenceCluster.nodeTerminationHandlerRole.arn`). */
  readonly roleArn: string;
  /** AWS region of the queue and the nodes. */
  readonly region: string;
  /**
   * Container image, pinned by digest (`…/aws-node-termination-handler:v1.25.3@sha256:<64 hex>`;
   * see NODE_TERMINATION_HANDLER_RELEASE).
   */
  readonly image: string;
  /**
   * Namespace; must match the IRSA trust of `roleArn`.
   * @default NODE_TERMINATION_HANDLER_SERVICE_ACCOUNT.namespace ('kube-system')
   */
  readonly namespace?: string;
  /**
   * Service account name; must match the IRSA trust of `roleArn`.
   * @default NODE_TERMINATION_HANDLER_SERVICE_ACCOUNT.name ('aws-node-termination-handler')
   */
  readonly serviceAccountName?: string;
  /**
   * Node selector keeping the handler off the (spot) nodes it drains.
   * @default { 'surgeguard.io/pool': 'cpu' }
   */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /**
   * Seconds a drained pod gets to stop; -1 uses each pod's own terminationGracePeriodSeconds.
   * Keep pods' grace periods under the two minutes of a spot notice.
   * @default -1
   */
  readonly podTerminationGracePeriodSeconds?: number;
}

/**
 * The AWS Node Termination Handler in queue-processor mode: reads EC2 spot interruption notices,
 * rebalance recommendations, state changes and scheduled maintenance from the SQS queue that
 * `InferenceCluster` feeds, then taints, cordons and drains the affected node (respecting
 * PodDisruptionBudgets) so a reclaimed spot GPU node hands its work back before it disappears.
 * Managed node groups already drain on rebalance recommendations; this covers the interruption notice
 * that arrives without one and maintenance events.
 * @see https://github.com/aws/aws-node-termination-handler#queue-processor
 */
export class NodeTerminationHandler extends Construct {
  /** The service account (annotated with the IRSA role). */
  public readonly serviceAccount: ServiceAccountV1;
  /** The handler deployment. */
  public readonly deployment: DeploymentV1;

  constructor(scope: Construct, id: string, props: NodeTerminationHandlerProps) {
    super(scope, id);
    checkImagePinned(new PropsValidator('NodeTerminationHandler', id), 'image', props.image);
    const grace = props.podTerminationGracePeriodSeconds ?? -1;
    new PropsValidator('NodeTerminationHandler', id).check(
      'podTerminationGracePeriodSeconds',
      grace,
      (g) => Number.isInteger(g) && g >= -1,
      `${grace} must be -1 or a whole number of seconds`,
    );
    const namespace = props.namespace ?? NODE_TERMINATION_HANDLER_SERVICE_ACCOUNT.namespace;
    const name = props.serviceAccountName ?? NODE_TERMINATION_HANDLER_SERVICE_ACCOUNT.name;
    const labels = { 'app.kubernetes.io/name': 'aws-node-termination-handler', 'app.kubernetes.io/part-of': 'surgeguard' };

    this.serviceAccount = new ServiceAccountV1(this, 'service-account', {
      metadata: { name, namespace, labels, annotations: { 'eks.amazonaws.com/role-arn': props.roleArn } },
    });
    const role = new ClusterRoleV1(this, 'cluster-role', {
      metadata: { name, labels },
      rule: [
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'patch', 'update'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
        { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
        { apiGroups: ['apps'], resources: ['daemonsets'], verbs: ['get'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create'] },
      ],
    });
    new ClusterRoleBindingV1(this, 'cluster-role-binding', {
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
      subject: [{ kind: 'ServiceAccount', name: this.serviceAccount.metadata.name, namespace }],
    });

    const env: Record<string, string> = {
      ENABLE_SQS_TERMINATION_DRAINING: 'true',
      QUEUE_URL: props.queueUrl,
      AWS_REGION: props.region,
      // Managed node groups' auto scaling groups carry no NTH tag; nodes of other clusters are not found and skipped.
      CHECK_TAG_BEFORE_DRAINING: 'false',
      DELETE_LOCAL_DATA: 'true',
      IGNORE_DAEMON_SETS: 'true',
      POD_TERMINATION_GRACE_PERIOD: String(grace),
      TAINT_NODE: 'true',
      EXCLUDE_FROM_LOAD_BALANCERS: 'true',
      EMIT_KUBERNETES_EVENTS: 'true',
      JSON_LOGGING: 'true',
      ENABLE_PROBES_SERVER: 'true',
      PROBES_SERVER_PORT: '8080',
      PROBES_SERVER_ENDPOINT: '/healthz',
      ENABLE_PROMETHEUS_SERVER: 'true',
      PROMETHEUS_SERVER_PORT: '9092',
    };
    this.deployment = new DeploymentV1(this, 'deployment', {
      metadata: { name, namespace, labels },
      spec: {
        // One consumer: two would race for the same messages and drain twice.
        replicas: '1',
        strategy: { type: 'Recreate' },
        selector: { matchLabels: { 'app.kubernetes.io/name': 'aws-node-termination-handler' } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: this.serviceAccount.metadata.name,
            priorityClassName: 'system-cluster-critical',
            nodeSelector: { ...(props.nodeSelector ?? { [NODE_POOL_LABEL]: 'cpu' }) },
            securityContext: { runAsNonRoot: true, runAsUser: '1000', runAsGroup: '1000', fsGroup: '1000', seccompProfile: { type: 'RuntimeDefault' } },
            container: [
              {
                name: 'handler',
                image: props.image,
                env: [
                  { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  ...Object.entries(env).map(([k, value]) => ({ name: k, value })),
                ],
                port: [
                  { name: 'probes', containerPort: 8080 },
                  { name: 'metrics', containerPort: 9092 },
                ],
                livenessProbe: { httpGet: { path: '/healthz', port: '8080' }, initialDelaySeconds: 5, periodSeconds: 5 },
                // Ready once its probes server answers (it has started polling the queue).
                readinessProbe: { httpGet: { path: '/healthz', port: '8080' }, initialDelaySeconds: 2, periodSeconds: 5, failureThreshold: 2 },
                resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '128Mi' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      },
    });
  }
}
