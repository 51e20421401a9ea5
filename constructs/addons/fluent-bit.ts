import { Construct } from 'constructs';
import { Release } from '@cdktf/provider-helm/lib/release';
import { CONTAINER_LOG_SHIPPER_SERVICE_ACCOUNT, ContainerLogStream, validateContainerLogStreams } from '../monitoring/container-logs';
import { PropsValidator } from '../private/validation';
import { ADDON_CHARTS, ADDON_IMAGES, helmValues, PinnedImage, releaseDefaults } from './charts';

/** A stream and the (existing, Terraform-made) log group it ships to. */
export interface ShippedContainerLogStream extends ContainerLogStream {
  /** The CloudWatch Logs group (`ContainerLogGroups.groupNames[key]`). */
  readonly logGroupName: string;
}

/** Port of Fluent Bit's HTTP server (health check, Prometheus metrics). */
export const FLUENT_BIT_HTTP_PORT = 2020;
/** Host directory of the tail inputs' offset databases (survives a pod restart: no line shipped twice or lost). */
export const FLUENT_BIT_STATE_DIR = '/var/fluent-bit/state';

/** `/var/log/containers/<pod>_<namespace>_<container>-<id>.log`: the kubelet's links to every container's log. */
const containerLogPath = (namespace: string) => `/var/log/containers/*_${namespace}_*.log`;

/** A classic-mode Fluent Bit section: `[NAME]` then one `Key value` line per entry, in order. */
function section(name: string, entries: ReadonlyArray<readonly [string, string | number]>): string {
  return [`[${name}]`, ...entries.map(([k, v]) => `    ${k} ${v}`)].join('\n');
}

/**
 * The Fluent Bit pipeline (classic configuration) for these streams: one `tail` input per stream over
 * the kubelet's container log links (a namespace stream by its namespaces' file names, the `rest`
 * stream over every file the others do not take), CRI lines reassembled (`multiline.parser cri`), offsets
 * kept on the host, and one `cloudwatch_logs` output per stream into its existing group
 * (`auto_create_group false`: the output never creates a group, never sets a retention), retrying
 * without limit (a failing output pauses its input at `Mem_Buf_Limit`; the offsets do not advance, so
 * nothing is dropped while CloudWatch Logs is unreachable). Streams are named `<node>.<tag>`, the tag
 * carrying `<pod>_<namespace>_<container>-<container id>`.
 */
export function fluentBitConfig(opts: { readonly region: string; readonly streams: readonly ShippedContainerLogStream[] }): {
  service: string;
  inputs: string;
  outputs: string;
} {
  const named = opts.streams.flatMap((s) => (s.namespaces === 'rest' ? [] : s.namespaces.map(containerLogPath)));
  const inputs = opts.streams.map((s) =>
    section('INPUT', [
      ['Name', 'tail'],
      ['Alias', `containers-${s.key}`],
      ['Tag', `${s.key}.*`],
      ['Path', s.namespaces === 'rest' ? '/var/log/containers/*.log' : s.namespaces.map(containerLogPath).join(',')],
      ...(s.namespaces === 'rest' && named.length > 0 ? ([['Exclude_Path', named.join(',')]] as const) : []),
      ['multiline.parser', 'cri'],
      ['DB', `${FLUENT_BIT_STATE_DIR}/containers-${s.key}.db`],
      ['DB.locking', 'true'],
      ['Read_from_Head', 'true'],
      ['Refresh_Interval', 10],
      ['Rotate_Wait', 30],
      ['Mem_Buf_Limit', '32MB'],
      ['Skip_Long_Lines', 'On'],
    ]),
  );
  const outputs = opts.streams.map((s) =>
    section('OUTPUT', [
      ['Name', 'cloudwatch_logs'],
      ['Alias', `cloudwatch-${s.key}`],
      ['Match', `${s.key}.*`],
      ['region', opts.region],
      ['log_group_name', s.logGroupName],
      // `$${` is Terraform's escape for a literal `${`: Fluent Bit expands the node name from its environment.
      ['log_stream_prefix', '$${NODE_NAME}.'],
      ['auto_create_group', 'false'],
      ['Retry_Limit', 'no_limits'],
    ]),
  );
  const service = section('SERVICE', [
    ['Daemon', 'Off'],
    ['Flush', 5],
    ['Log_Level', 'info'],
    ['Parsers_File', '/fluent-bit/etc/parsers.conf'],
    ['HTTP_Server', 'On'],
    ['HTTP_Listen', '0.0.0.0'],
    ['HTTP_Port', FLUENT_BIT_HTTP_PORT],
    ['Health_Check', 'On'],
  ]);
  return { service, inputs: inputs.join('\n\n'), outputs: outputs.join('\n\n') };
}

export interface ContainerLogShipperProps {
  /** AWS region of the log groups. */
  readonly region: string;
  /** The streams and their groups (`ContainerLogGroups`, platform stack). */
  readonly streams: readonly ShippedContainerLogStream[];
  /** IRSA role that may write those groups (`ContainerLogGroups.shipperRole.arn`). */
  readonly roleArn: string;
  /** Image, pinned by digest. @default ADDON_IMAGES.fluentBit */
  readonly image?: PinnedImage;
}

/**
 * Ships every container's stdout/stderr (proxy, worker, model servers, the add-ons, kube-system) to
 * CloudWatch Logs: Fluent Bit as a DaemonSet on every node — GPU nodes included (it tolerates every
 * taint) — reading the kubelet's log files read-only, and writing with its IRSA role into the groups
 * the platform stack created (KMS-encrypted, with retention). No Kubernetes API access: the pod,
 * namespace and container are in each stream's name, so the chart's RBAC and the `kubernetes` filter
 * are off. Chosen over the `amazon-cloudwatch-observability` EKS add-on: see docs/operating.md.
 * @see https://docs.fluentbit.io/manual/pipeline/outputs/cloudwatch
 */
export class ContainerLogShipper extends Construct {
  /** The Helm release. */
  public readonly release: Release;

  constructor(scope: Construct, id: string, props: ContainerLogShipperProps) {
    super(scope, id);
    const v = new PropsValidator('ContainerLogShipper', id);
    validateContainerLogStreams(v, props.streams);
    for (const s of props.streams) v.matches('streams', s.logGroupName, /^[\w\-/.#]{1,512}$/, `${s.key}: "${s.logGroupName}" is not a log group name`);
    const image = props.image ?? ADDON_IMAGES.fluentBit;
    v.pinnedDigest('image.tag', image.tag);
    const config = fluentBitConfig({ region: props.region, streams: props.streams });
    this.release = new Release(this, 'release', {
      ...releaseDefaults(ADDON_CHARTS.fluentBit),
      name: 'fluent-bit',
      namespace: CONTAINER_LOG_SHIPPER_SERVICE_ACCOUNT.namespace,
      values: [
        helmValues({
          fullnameOverride: 'fluent-bit',
          kind: 'DaemonSet',
          image: { repository: image.repository, tag: image.tag },
          // The chart's `helm test` pod runs busybox:latest.
          testFramework: { enabled: false },
          serviceAccount: {
            create: true,
            name: CONTAINER_LOG_SHIPPER_SERVICE_ACCOUNT.name,
            annotations: { 'eks.amazonaws.com/role-arn': props.roleArn },
          },
          // No kubernetes filter: no API access needed.
          rbac: { create: false },
          // Every node, the tainted GPU nodes included; never evicted before the pods it ships.
          tolerations: [{ operator: 'Exists' }],
          priorityClassName: 'system-node-critical',
          updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } },
          // Root reads the kubelet's root-owned log files (0640); nothing else: no capability, no
          // privilege escalation, read-only root file system, the logs mounted read-only.
          podSecurityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          securityContext: {
            runAsUser: 0,
            runAsNonRoot: false,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
          },
          resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
          metricsPort: FLUENT_BIT_HTTP_PORT,
          // The managed collector scrapes the output counters (retries, errors, dropped records).
          podAnnotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(FLUENT_BIT_HTTP_PORT),
            'prometheus.io/path': '/api/v2/metrics/prometheus',
          },
          daemonSetVolumes: [
            { name: 'varlog', hostPath: { path: '/var/log' } },
            { name: 'state', hostPath: { path: FLUENT_BIT_STATE_DIR, type: 'DirectoryOrCreate' } },
          ],
          daemonSetVolumeMounts: [
            { name: 'varlog', mountPath: '/var/log', readOnly: true },
            { name: 'state', mountPath: FLUENT_BIT_STATE_DIR },
          ],
          config: { service: config.service, inputs: config.inputs, filters: '', outputs: config.outputs, customParsers: '' },
        }),
      ],
    });
  }
}
