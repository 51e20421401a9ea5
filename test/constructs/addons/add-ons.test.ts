import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ADDON_CHARTS, ADDON_IMAGES } from '../../../constructs/addons/charts';
import { CLUSTER_AUTOSCALER_SERVICE_ACCOUNT, ClusterAutoscaler, ClusterAutoscalerProps, managedNodeGroupAsgPattern } from '../../../constructs/addons/cluster-autoscaler';
import { MetricsServer } from '../../../constructs/addons/metrics-server';
import { NvidiaDevicePlugin } from '../../../constructs/addons/nvidia-device-plugin';
import { adapterRules, METRICS_ADAPTER_SERVICE_ACCOUNT, PrometheusAdapter } from '../../../constructs/addons/prometheus-adapter';
import { SecretsStoreCsi } from '../../../constructs/addons/secrets-store-csi';
import { ContainerLogShipper, fluentBitConfig } from '../../../constructs/addons/fluent-bit';
import { ENVIRONMENTS } from '../../../envs';
import { HPA_ADAPTER_METRICS } from '../../../stacks';
import { valuesOf } from '../../support/cluster-rules';
import { onlyResource, synthApp, synthConstruct } from '../../support/synth';

const release = (build: Parameters<typeof synthConstruct>[0]) => onlyResource(synthConstruct(build), 'helm_release');

describe('Helm releases of the add-ons', () => {
  it('pins every chart to an exact version and every image surgeguard sets to a digest', () => {
    for (const chart of Object.values(ADDON_CHARTS)) expect(chart.version).toMatch(/^\d+\.\d+\.\d+$/);
    for (const image of Object.values(ADDON_IMAGES)) expect(image.tag).toMatch(/^v?[\d.]+@sha256:[0-9a-f]{64}$/);
  });

  it('runs the NVIDIA device plugin on the GPU pool only (the chart default needs Node Feature Discovery labels), tolerating the GPU taint', () => {
    const r = release((s) => new NvidiaDevicePlugin(s, 'dp'));
    expect(r).toMatchObject({ chart: 'nvidia-device-plugin', version: '0.17.1', namespace: 'kube-system', atomic: true });
    const v = valuesOf(r);
    expect(v.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: 'surgeguard.io/pool', operator: 'In', values: ['gpu'] }] },
    ]);
    expect(v.tolerations).toContainEqual({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
    expect(`${v.image.repository}:${v.image.tag}`).toBe('nvcr.io/nvidia/k8s-device-plugin:v0.17.1@sha256:af31e2b7c7f89834c4e5219860def7ac2e49a207b3d4e8610d5a26772b7738e5');
    expect(() => synthConstruct((s) => new NvidiaDevicePlugin(s, 'dp', { image: { repository: 'nvcr.io/nvidia/k8s-device-plugin', tag: 'v0.17.1' } }))).toThrow(
      'NvidiaDevicePlugin test/dp: image.tag "v0.17.1" must pin a digest',
    );
  });

  it('runs two metrics-server replicas with a disruption budget on the CPU pool', () => {
    const v = valuesOf(release((s) => new MetricsServer(s, 'ms')));
    expect(v).toMatchObject({ replicas: 2, podDisruptionBudget: { enabled: true, maxUnavailable: 1 }, nodeSelector: { 'surgeguard.io/pool': 'cpu' } });
    expect(() => synthConstruct((s) => new MetricsServer(s, 'ms', { replicas: 0 }))).toThrow('MetricsServer test/ms: replicas 0');
  });

  describe('Cluster Autoscaler', () => {
    const base: ClusterAutoscalerProps = {
      clusterName: 'c1',
      region: 'eu-west-1',
      kubernetesVersion: '1.32',
      roleArn: 'arn:aws:iam::123456789012:role/ca',
      nodeGroupPriorities: [
        { nodeGroupName: 'c1-gpu-spot', priority: 50 },
        { nodeGroupName: 'c1-gpu-on-demand', priority: 10 },
      ],
    };
    it('discovers the cluster\'s groups, uses the priority expander and the IRSA service account the role trusts', () => {
      const v = valuesOf(release((s) => new ClusterAutoscaler(s, 'ca', base)));
      expect(v).toMatchObject({
        cloudProvider: 'aws',
        awsRegion: 'eu-west-1',
        autoDiscovery: { clusterName: 'c1' },
        rbac: { serviceAccount: { name: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT.name, annotations: { 'eks.amazonaws.com/role-arn': base.roleArn } } },
        extraArgs: { expander: 'priority', 'skip-nodes-with-local-storage': false },
        expanderPriorities: { '50': ['^eks-c1-gpu-spot-[0-9a-f-]+$'], '10': ['^eks-c1-gpu-on-demand-[0-9a-f-]+$'] },
      });
    });
    it('matches the Auto Scaling group EKS names after a managed node group, and nothing else', () => {
      const p = new RegExp(managedNodeGroupAsgPattern('c1-gpu-spot'));
      expect(p.test('eks-c1-gpu-spot-52c6f1a8-2b7e-44a3-9d4c-0f1e2d3c4b5a')).toBe(true);
      expect(p.test('eks-c1-gpu-spot-extra-52c6f1a8')).toBe(false);
      expect(p.test('eks-c1-gpu-on-demand-52c6f1a8')).toBe(false);
      expect(managedNodeGroupAsgPattern('a.b')).toBe('^eks-a\\.b-[0-9a-f-]+$');
    });
    it('refuses an autoscaler whose minor version differs from the cluster\'s, and missing or invalid priorities', () => {
      expect(() => synthConstruct((s) => new ClusterAutoscaler(s, 'ca', { ...base, kubernetesVersion: '1.31' }))).toThrow(
        'ClusterAutoscaler test/ca: image registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.1@sha256:dfc7e06c58b3757e530a0be1b8af6f6fe38926f0f4da35d6f1b8a9a9e0bb78de is for Kubernetes 1.32, the cluster runs 1.31 (kubernetesVersion)',
      );
      expect(() => synthConstruct((s) => new ClusterAutoscaler(s, 'ca', { ...base, nodeGroupPriorities: [] }))).toThrow('nodeGroupPriorities must list');
      expect(() => synthConstruct((s) => new ClusterAutoscaler(s, 'ca', { ...base, nodeGroupPriorities: [{ nodeGroupName: 'x', priority: 0 }] }))).toThrow(
        'priority 0 of "x" must be a whole number >= 1',
      );
    });
  });

  it('installs the CSI driver and its AWS provider as the EKS add-on, pinned by add-on version, with secret sync and rotation', () => {
    const addon = onlyResource(synthConstruct((s) => new SecretsStoreCsi(s, 'ss', { clusterName: 'c', kubernetesVersion: '1.32' })), 'aws_eks_addon');
    expect(addon).toMatchObject({ cluster_name: 'c', addon_name: 'aws-secrets-store-csi-driver-provider', addon_version: 'v2.2.2-eksbuild.1' });
    expect(JSON.parse(addon.configuration_values)).toEqual({
      'secrets-store-csi-driver': { syncSecret: { enabled: true }, enableSecretRotation: true, rotationPollInterval: '2m' },
    });
  });

  it('refuses a Kubernetes version without a known add-on version, a version that is not exact, and a bad rotation interval', () => {
    expect(() => synthConstruct((s) => new SecretsStoreCsi(s, 'ss', { clusterName: 'c', kubernetesVersion: '1.99' }))).toThrow(
      'SecretsStoreCsi test/ss: no aws-secrets-store-csi-driver-provider add-on version is known for Kubernetes 1.99 (kubernetesVersion)',
    );
    expect(() => synthConstruct((s) => new SecretsStoreCsi(s, 'ss', { clusterName: 'c', kubernetesVersion: '1.32', addonVersion: 'latest' }))).toThrow(
      'SecretsStoreCsi test/ss: addonVersion "latest" must be an exact add-on version like v2.2.2-eksbuild.1',
    );
    expect(() => synthConstruct((s) => new SecretsStoreCsi(s, 'ss', { clusterName: 'c', kubernetesVersion: '1.32', rotationPollInterval: 'often' }))).toThrow(
      'SecretsStoreCsi test/ss: rotationPollInterval "often" must be a duration like 2m',
    );
  });

  it('runs prometheus-adapter v0.12.0 by digest, and refuses an adapter image without one', () => {
    const build = (image?: { repository: string; tag: string }) => (s: Parameters<Parameters<typeof synthConstruct>[0]>[0]) =>
      new PrometheusAdapter(s, 'pa', { region: 'us-east-1', workspaceId: 'ws-1', roleArn: 'arn:aws:iam::1:role/r', metrics: HPA_ADAPTER_METRICS, image });
    const { image } = valuesOf(release(build()));
    expect(`${image.repository}:${image.tag}`).toBe(
      'registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0@sha256:932eae60e2bcf9c4660d6442da066ef1a79b4ea7cc232c61c7303069216ca006',
    );
    expect(() => synthConstruct(build({ repository: 'registry.k8s.io/prometheus-adapter/prometheus-adapter', tag: 'v0.12.0' }))).toThrow(
      'PrometheusAdapter test/pa: image.tag "v0.12.0" must pin a digest',
    );
  });

  describe('container log shipper (Fluent Bit)', () => {
    const streams = [
      { key: 'app', namespaces: ['surgeguard'], logGroupName: '/surgeguard/x/containers/app' },
      { key: 'system', namespaces: 'rest' as const, logGroupName: '/surgeguard/x/containers/system' },
    ];
    const shipper = (props: Partial<ConstructorParameters<typeof ContainerLogShipper>[2]> = {}) =>
      synthConstruct((s) => new ContainerLogShipper(s, 'logs', { region: 'us-east-1', streams, roleArn: 'arn:aws:iam::1:role/r', ...props }));

    it('reads each namespace by its log file names, the rest stream everything else, and writes existing groups only', () => {
      const config = fluentBitConfig({ region: 'us-east-1', streams });
      expect(config.inputs).toContain('Path /var/log/containers/*_surgeguard_*.log');
      expect(config.inputs).toContain('Path /var/log/containers/*.log\n    Exclude_Path /var/log/containers/*_surgeguard_*.log');
      expect(config.outputs.match(/auto_create_group false/g)).toHaveLength(2);
      expect(config.outputs).not.toMatch(/log_retention_days|auto_create_group true/);
      const v = valuesOf(onlyResource(shipper(), 'helm_release'));
      expect(v.serviceAccount).toEqual({ create: true, name: 'fluent-bit', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/r' } });
      expect(v.testFramework).toEqual({ enabled: false });
    });

    it('refuses an image without digest, two rest streams, a namespace in two streams and a bad group name', () => {
      expect(() => shipper({ image: { repository: 'cr.fluentbit.io/fluent/fluent-bit', tag: '3.2.10' } })).toThrow('ContainerLogShipper logs: image.tag "3.2.10" must pin a digest');
      expect(() => shipper({ streams: [...streams, { key: 'more', namespaces: 'rest', logGroupName: '/x' }] })).toThrow('ContainerLogShipper logs: streams must have exactly one "rest" stream');
      expect(() => shipper({ streams: [...streams, { key: 'again', namespaces: ['surgeguard'], logGroupName: '/x' }] })).toThrow('ContainerLogShipper logs: streams namespace "surgeguard" is in two streams');
      expect(() => shipper({ streams: [{ ...streams[0], logGroupName: 'bad group!' }, streams[1]] })).toThrow('ContainerLogShipper logs: streams app: "bad group!" is not a log group name');
    });
  });

  describe('prometheus-adapter rules', () => {
    it('refuses names a Kubernetes metric cannot have, Pods metrics not summed per pod, and duplicates', () => {
      expect(() => adapterRules([{ name: 'vllm:num_requests_waiting', series: 'vllm:num_requests_waiting', type: 'Pods', aggregation: { kind: 'per-pod-sum' } }])).toThrow(
        'adapterRules: "vllm:num_requests_waiting" is not a Kubernetes metric name',
      );
      expect(() => adapterRules([{ name: 'x', series: 'x', type: 'Pods', aggregation: { kind: 'shared-max', groupBy: 'queue' } }])).toThrow('must use per-pod-sum');
      expect(() => adapterRules([...HPA_ADAPTER_METRICS, HPA_ADAPTER_METRICS[0]])).toThrow('metric "vllm_num_requests_waiting" is defined twice');
    });

    it('serves the add-on roles\' service accounts from the IRSA roles the platform stack trusts', () => {
      const app = synthApp([ENVIRONMENTS.dev]);
      try {
        const platform = app.stack('dev-us-east-1');
        const trusts = Object.values(platform.data!.aws_iam_policy_document).flatMap((d: any) => d.statement.flatMap((s: any) => (s.condition ?? []).flatMap((c: any) => c.values)));
        expect(trusts).toContain(`system:serviceaccount:${CLUSTER_AUTOSCALER_SERVICE_ACCOUNT.namespace}:${CLUSTER_AUTOSCALER_SERVICE_ACCOUNT.name}`);
        expect(trusts).toContain(`system:serviceaccount:${METRICS_ADAPTER_SERVICE_ACCOUNT.namespace}:${METRICS_ADAPTER_SERVICE_ACCOUNT.name}`);
        const ca = Object.values(platform.data!.aws_iam_policy_document).find((d: any) => d.statement.some((s: any) => s.sid === 'ResizeOwnGroupsOnly')) as any;
        const resize = ca.statement.find((s: any) => s.sid === 'ResizeOwnGroupsOnly');
        expect(resize.condition).toEqual([
          { test: 'StringEquals', variable: expect.stringMatching(/^aws:ResourceTag\/k8s\.io\/cluster-autoscaler\/\$\{aws_eks_cluster\.cluster_[A-Z0-9]+\.name\}$/), values: ['owned'] },
        ]);
      } finally {
        rmSync(app.outdir, { recursive: true, force: true });
      }
    });
  });
});

/**
 * The adapter's queries run on real Prometheus (promtool's evaluator) over series shaped like the
 * collector stores them: two workers report the same two queues, vLLM pods report per model.
 */
describe('prometheus-adapter queries (promtool)', () => {
  const rules = adapterRules(HPA_ADAPTER_METRICS);
  const fill = (query: string, series: string, matchers: string, groupBy = '') =>
    query.replace('<<.Series>>', series).replace('<<.LabelMatchers>>', matchers).replace('<<.GroupBy>>', groupBy);
  const queueQuery = (q: string) => fill(q, 'surgeguard_worker_queue_depth', 'namespace="surgeguard"');
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  function promtoolTest(tests: object[]): { status: number; output: string } {
    const dir = mkdtempSync(join(tmpdir(), 'surgeguard-adapter-'));
    dirs.push(dir);
    const file = join(dir, 'adapter.test.yml');
    writeFileSync(file, stringify({ rule_files: [], evaluation_interval: '1m', tests }));
    const r = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
    if (r.error) throw new Error(`promtool could not run (install the Debian package "prometheus"): ${r.error.message}`);
    return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
  }
  const workerSeries = [
    { series: 'surgeguard_worker_queue_depth{namespace="surgeguard",pod="worker-a",queue="surgeguard.jobs.high"}', values: '500' },
    { series: 'surgeguard_worker_queue_depth{namespace="surgeguard",pod="worker-b",queue="surgeguard.jobs.high"}', values: '500' },
    { series: 'surgeguard_worker_queue_depth{namespace="surgeguard",pod="worker-a",queue="surgeguard.jobs.low"}', values: '100' },
    { series: 'surgeguard_worker_queue_depth{namespace="surgeguard",pod="worker-b",queue="surgeguard.jobs.low"}', values: '100' },
    { series: 'surgeguard_worker_queue_depth{namespace="elsewhere",pod="other",queue="surgeguard.jobs.high"}', values: '9999' },
  ];
  const backlogTest = (expr: string, value: number) => ({
    interval: '1m',
    input_series: workerSeries,
    promql_expr_test: [{ expr, eval_time: '0m', exp_samples: [{ labels: '{}', value }] }],
  });

  it('counts each queue once however many workers report it, summed over queues, in the HPA\'s namespace only', () => {
    const r = promtoolTest([backlogTest(queueQuery(rules.external[0].metricsQuery), 600)]);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('would double the backlog with two workers if the depths were summed (the check can fail)', () => {
    const r = promtoolTest([backlogTest(queueQuery('sum(<<.Series>>{<<.LabelMatchers>>})'), 600)]);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/got: \{\} (1200|1\.2E\+03)/);
  });

  it('serves vLLM\'s waiting requests per pod from the colon-named series', () => {
    const vllm = rules.custom.find((c) => c.name.as === 'vllm_num_requests_waiting')!;
    const expr = fill(vllm.metricsQuery, 'vllm:num_requests_waiting', 'namespace="surgeguard-inference",pod=~"ms-a|ms-b"', 'pod');
    const r = promtoolTest([
      {
        interval: '1m',
        input_series: [
          { series: 'vllm:num_requests_waiting{namespace="surgeguard-inference",pod="ms-a",model_name="deepseek"}', values: '3' },
          { series: 'vllm:num_requests_waiting{namespace="surgeguard-inference",pod="ms-b",model_name="deepseek"}', values: '7' },
          { series: 'vllm:num_requests_waiting{namespace="surgeguard-inference",pod="ms-c",model_name="deepseek"}', values: '50' },
        ],
        promql_expr_test: [{ expr, eval_time: '0m', exp_samples: [{ labels: '{pod="ms-a"}', value: 3 }, { labels: '{pod="ms-b"}', value: 7 }] }],
      },
    ]);
    expect(r.output).toContain('SUCCESS');
  });
});
