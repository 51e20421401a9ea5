import { readFileSync, rmSync } from 'fs';
import { join } from 'path';
import { ENVIRONMENTS } from '../../envs';
import { stackNames } from '../../stacks';
import {
  containerLogViolations,
  deployDocViolations,
  fluentBitSections,
  hpaMetrics,
  hpaMetricsWithoutProvider,
  manifestsWithoutInstalledCrd,
  nodeGroupsWithoutAutoscaler,
  providersWithoutExecAuth,
  RegionStacks,
  stackOrderViolations,
  unpinnedAddonImages,
  unpinnedEksAddons,
  valuesOf,
} from '../support/cluster-rules';
import { synthApp, SynthesizedApp, TfJson } from '../support/synth';

jest.setTimeout(60_000);

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));
const releaseId = (tf: TfJson, chart: string) => Object.entries(tf.resource!.helm_release).find(([, r]: [string, any]) => r.chart === chart)![0];
/** Rewrites the values of a release in a copy of the stack. */
function withValues(tf: TfJson, chart: string, edit: (values: any) => void): TfJson {
  const copy = clone(tf);
  const release = copy.resource!.helm_release[releaseId(copy, chart)];
  const values = valuesOf(release);
  edit(values);
  release.values = [JSON.stringify(values)];
  return copy;
}
function without(tf: TfJson, chart: string): TfJson {
  const copy = clone(tf);
  delete copy.resource!.helm_release[releaseId(copy, chart)];
  return copy;
}

describe('cluster add-ons: every environment can run, feed and scale what it declares', () => {
  let app: SynthesizedApp;
  let dependencies: Record<string, string[]>;
  const regionsOf = (env: string) => ENVIRONMENTS[env].regions.map((r) => r.region);
  const region = (env: string, r: string): RegionStacks => ({
    platform: app.stack(stackNames.platform(env, r)),
    addons: app.stack(stackNames.addons(env, r)),
    workloads: app.stack(stackNames.workloads(env, r)),
  });
  const cells = () => Object.keys(ENVIRONMENTS).flatMap((env) => regionsOf(env).map((r) => ({ env, r, stacks: region(env, r) })));

  beforeAll(() => {
    app = synthApp(Object.values(ENVIRONMENTS));
    const manifest = JSON.parse(readFileSync(join(app.outdir, 'manifest.json'), 'utf8'));
    dependencies = Object.fromEntries(Object.entries(manifest.stacks).map(([name, s]: [string, any]) => [name, s.dependencies]));
  });
  afterAll(() => rmSync(app.outdir, { recursive: true, force: true }));

  describe('every HPA metric has a provider', () => {
    it('holds in every region of every environment, for the three HPAs and their four metrics', () => {
      for (const { stacks } of cells()) {
        expect(hpaMetrics(stacks.workloads).map((m) => `${m.hpa} ${m.type}:${m.name}`).sort()).toEqual([
          'surgeguard-model-server Pods:vllm_num_requests_waiting',
          'surgeguard-proxy Pods:surgeguard_proxy_in_flight_requests',
          'surgeguard-proxy Resource:cpu',
          'surgeguard-worker External:surgeguard_worker_queue_depth',
        ]);
        expect(hpaMetricsWithoutProvider(stacks)).toEqual([]);
      }
    });

    it('maps vLLM\'s colon name to the name the HPA asks for', () => {
      const rules = valuesOf(region('prod', 'us-east-1').addons.resource!.helm_release[releaseId(region('prod', 'us-east-1').addons, 'prometheus-adapter')]).rules;
      const vllm = rules.custom.find((r: any) => r.name.as === 'vllm_num_requests_waiting');
      expect(vllm.seriesQuery).toBe('vllm:num_requests_waiting{namespace!="",pod!=""}');
      expect(vllm.name.matches).toBe('^vllm:num_requests_waiting$');
      expect(rules.default).toBe(false);
    });

    it('fails without metrics-server, without a rule, with the vLLM name unmapped, or with the queue depth summed over workers', () => {
      const base = region('prod', 'us-east-1');
      expect(hpaMetricsWithoutProvider({ ...base, addons: without(base.addons, 'metrics-server') })).toEqual([
        'HPA surgeguard-proxy: Resource metric cpu: no metrics-server release',
      ]);
      const unmapped = withValues(base.addons, 'prometheus-adapter', (v) => {
        v.rules.custom.find((r: any) => r.name.as === 'vllm_num_requests_waiting').name.as = 'vllm:num_requests_waiting';
      });
      expect(hpaMetricsWithoutProvider({ ...base, addons: unmapped })).toEqual([
        'HPA surgeguard-model-server: Pods metric vllm_num_requests_waiting: no prometheus-adapter custom rule serves it',
      ]);
      const noExternal = withValues(base.addons, 'prometheus-adapter', (v) => (v.rules.external = []));
      expect(hpaMetricsWithoutProvider({ ...base, addons: noExternal })).toEqual([
        'HPA surgeguard-worker: External metric surgeguard_worker_queue_depth: no prometheus-adapter external rule serves it',
      ]);
      const summed = withValues(base.addons, 'prometheus-adapter', (v) => (v.rules.external[0].metricsQuery = 'sum(<<.Series>>{<<.LabelMatchers>>})'));
      expect(hpaMetricsWithoutProvider({ ...base, addons: summed })).toEqual([
        expect.stringContaining('surgeguard_worker_queue_depth: query "sum(<<.Series>>{<<.LabelMatchers>>})" does not take the max'),
      ]);
      expect(hpaMetricsWithoutProvider({ ...base, addons: without(base.addons, 'prometheus-adapter') })).toHaveLength(3);
    });
  });

  describe('a node autoscaler for every node pool', () => {
    it('holds in every region of every environment: the autoscaler discovers the cluster of every group and prioritises each', () => {
      for (const { stacks } of cells()) expect(nodeGroupsWithoutAutoscaler(stacks)).toEqual([]);
    });

    it('sends a GPU surge to spot first and to the on-demand base when spot is gone', () => {
      const values = valuesOf(region('prod', 'us-east-1').addons.resource!.helm_release[releaseId(region('prod', 'us-east-1').addons, 'cluster-autoscaler')]);
      expect(values.extraArgs.expander).toBe('priority');
      expect(values.expanderPriorities['50']).toEqual(['^eks-surgeguard-prod-use1-gpu-spot-[0-9a-f-]+$']);
      expect(values.expanderPriorities['10']).toEqual(['^eks-surgeguard-prod-use1-cpu-[0-9a-f-]+$', '^eks-surgeguard-prod-use1-gpu-on-demand-[0-9a-f-]+$']);
      // Every surgeguard pod has an emptyDir (/scratch): it must not pin its node.
      expect(values.extraArgs['skip-nodes-with-local-storage']).toBe(false);
    });

    it('fails without the autoscaler, for a group it has no priority for, for another cluster, and for an unlabelled GPU group', () => {
      const base = region('prod', 'us-east-1');
      expect(nodeGroupsWithoutAutoscaler({ ...base, addons: without(base.addons, 'cluster-autoscaler') })).toEqual([
        'node group surgeguard-prod-use1-cpu: no cluster-autoscaler release',
        'node group surgeguard-prod-use1-gpu-on-demand: no cluster-autoscaler release',
        'node group surgeguard-prod-use1-gpu-spot: no cluster-autoscaler release',
      ]);
      const platform = clone(base.platform);
      const spot = Object.values(platform.resource!.aws_eks_node_group).find((g: any) => g.node_group_name.endsWith('gpu-spot')) as any;
      platform.resource!.aws_eks_node_group.extra = { ...clone(spot), node_group_name: 'surgeguard-prod-use1-gpu-extra' };
      delete spot.labels['k8s.amazonaws.com/accelerator'];
      expect(nodeGroupsWithoutAutoscaler({ ...base, platform })).toEqual([
        'node group surgeguard-prod-use1-gpu-spot: GPU group without the k8s.amazonaws.com/accelerator label',
        'node group surgeguard-prod-use1-gpu-extra: no expander priority matches its Auto Scaling group',
      ]);
      const elsewhere = withValues(base.addons, 'cluster-autoscaler', (v) => (v.autoDiscovery.clusterName = 'someone-else'));
      expect(nodeGroupsWithoutAutoscaler({ ...base, addons: elsewhere })).toHaveLength(3);
      expect(nodeGroupsWithoutAutoscaler({ ...base, addons: without(base.addons, 'nvidia-device-plugin') })).toEqual([
        'node group surgeguard-prod-use1-gpu-on-demand: the NVIDIA device plugin does not run on it',
        'node group surgeguard-prod-use1-gpu-spot: the NVIDIA device plugin does not run on it',
      ]);
    });
  });

  describe('every add-on image runs by digest (Kubernetes objects are checked at synth by ImagesPinnedByDigest)', () => {
    it('holds for every release of every region, with no exemption: each image its chart renders is pinned', () => {
      for (const { stacks } of cells()) expect(unpinnedAddonImages(stacks.addons)).toEqual([]);
      const adapter = valuesOf(Object.values(region('prod', 'us-east-1').addons.resource!.helm_release).find((r: any) => r.chart === 'prometheus-adapter'));
      expect(adapter.image).toEqual({ repository: 'registry.k8s.io/prometheus-adapter/prometheus-adapter', tag: expect.stringMatching(/^v0\.12\.0@sha256:[0-9a-f]{64}$/) });
    });

    it('fails for a chart image left at its default, a tag without digest, an unpinned sidecar, and a chart with no image table', () => {
      const addons = region('prod', 'us-east-1').addons;
      const doctored = withValues(
        withValues(addons, 'metrics-server', (v) => delete v.image),
        'prometheus-adapter',
        (v) => {
          v.image.tag = 'v0.12.0';
          v.extraContainers[0].image = 'public.ecr.aws/aws-observability/aws-sigv4-proxy:1.11.1';
        },
      );
      expect(unpinnedAddonImages(doctored).sort()).toEqual([
        expect.stringMatching(/metrics-server .*: image is the chart default \(a tag\)$/),
        expect.stringMatching(/prometheus-adapter .*: extraContainers\[0\]\.image "public\.ecr\.aws\/aws-observability\/aws-sigv4-proxy:1\.11\.1" has no digest$/),
        expect.stringMatching(/prometheus-adapter .*: image tag "v0\.12\.0" has no digest$/),
      ]);
      const unknown = clone(addons);
      Object.values(unknown.resource!.helm_release as Record<string, any>)[0].chart = 'some-new-chart';
      expect(unpinnedAddonImages(unknown)).toEqual([expect.stringContaining('its chart\'s images are not listed in CHART_IMAGES')]);
    });

    it('pins every EKS add-on of every cluster to an exact add-on version (its images are that version\'s)', () => {
      for (const { stacks } of cells()) expect(unpinnedEksAddons(stacks.platform)).toEqual([]);
      const names = Object.values(region('prod', 'us-east-1').platform.resource!.aws_eks_addon).map((a: any) => `${a.addon_name} ${a.addon_version}`);
      expect(names.sort()).toEqual([
        'aws-secrets-store-csi-driver-provider v2.2.2-eksbuild.1',
        'coredns v1.11.4-eksbuild.24',
        'kube-proxy v1.32.9-eksbuild.2',
        'vpc-cni v1.20.1-eksbuild.3',
      ]);
    });

    it('fails for an add-on without a version or with a version that is not exact', () => {
      const platform = clone(region('prod', 'us-east-1').platform);
      const addons = Object.values(platform.resource!.aws_eks_addon) as any[];
      delete addons.find((a) => a.addon_name === 'vpc-cni').addon_version;
      addons.find((a) => a.addon_name === 'aws-secrets-store-csi-driver-provider').addon_version = 'latest';
      expect(unpinnedEksAddons(platform).sort()).toEqual([
        'aws_eks_addon aws-secrets-store-csi-driver-provider: addon_version "latest" is not exact',
        'aws_eks_addon vpc-cni: no addon_version (EKS picks one at create time)',
      ]);
    });
  });

  describe('container logs shipped to encrypted CloudWatch Logs groups Terraform made', () => {
    const prod = () => region('prod', 'us-east-1');
    const groupId = (tf: TfJson, suffix: string) => Object.entries(tf.resource!.aws_cloudwatch_log_group).find(([, g]: [string, any]) => g.name.endsWith(`/containers/${suffix}`))![0];

    it('holds in every region of every environment: every namespace read once, every group pre-made, encrypted, retained, written by a role scoped to it', () => {
      for (const { stacks } of cells()) expect(containerLogViolations(stacks)).toEqual([]);
      const values = valuesOf(prod().addons.resource!.helm_release[releaseId(prod().addons, 'fluent-bit')]);
      const outputs = fluentBitSections(values.config.outputs);
      expect(outputs.map((o) => o.entries.log_group_name)).toEqual(['app', 'inference', 'monitoring', 'system'].map((k) => `/surgeguard/surgeguard-prod-use1/containers/${k}`));
      // Every node, the tainted GPU nodes too; the logs read-only; no Kubernetes API access.
      expect(values.tolerations).toEqual([{ operator: 'Exists' }]);
      expect(values.rbac).toEqual({ create: false });
      expect(values.daemonSetVolumeMounts).toContainEqual({ name: 'varlog', mountPath: '/var/log', readOnly: true });
      expect(values.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(values.image.tag).toMatch(/^3\.2\.10@sha256:[0-9a-f]{64}$/);
    });

    it('fails without the shipper, for a namespace no input reads, and for an output that may create its group', () => {
      const base = prod();
      expect(containerLogViolations({ ...base, addons: without(base.addons, 'fluent-bit') })).toEqual(['no fluent-bit release in the add-ons stack: container logs are not shipped']);
      const noRest = withValues(base.addons, 'fluent-bit', (v) => {
        v.config.inputs = v.config.inputs.split('\n\n').filter((s: string) => !s.includes('Alias containers-system')).join('\n\n');
      });
      expect(containerLogViolations({ ...base, addons: noRest })).toEqual(['namespace kube-system: no tail input reads its containers\' logs']);
      // The proxy and worker's namespace (a namespace of the workloads stack) without its input: the catch-all excludes it.
      const noApp = withValues(base.addons, 'fluent-bit', (v) => {
        v.config.inputs = v.config.inputs.split('\n\n').filter((s: string) => !s.includes('Alias containers-app')).join('\n\n');
      });
      expect(containerLogViolations({ ...base, addons: noApp })).toEqual(['namespace surgeguard: no tail input reads its containers\' logs']);
      const autoCreate = withValues(base.addons, 'fluent-bit', (v) => (v.config.outputs = v.config.outputs.replace(/auto_create_group false/g, 'auto_create_group true')));
      expect(containerLogViolations({ ...base, addons: autoCreate })).toHaveLength(4);
      expect(containerLogViolations({ ...base, addons: autoCreate })[0]).toMatch(/auto_create_group is true/);
    });

    it('fails for a group the platform stack does not make, a group without its key or retention, and a key that does not admit CloudWatch Logs', () => {
      const base = prod();
      const noGroup = clone(base.platform);
      delete noGroup.resource!.aws_cloudwatch_log_group[groupId(noGroup, 'inference')];
      expect(containerLogViolations({ ...base, platform: noGroup })).toEqual([
        'output cloudwatch-inference: log group /surgeguard/surgeguard-prod-use1/containers/inference is not created by the platform stack',
        expect.stringMatching(/the shipper's role is granted resource \$\{aws_cloudwatch_log_group\.container-logs_group-inference_[0-9A-F]+\.arn\}:\*, not one of the shipped groups/),
      ]);
      const wrongKey = clone(base.platform);
      const other = Object.keys(wrongKey.resource!.aws_kms_key).find((k) => !k.startsWith('container-logs'))!;
      wrongKey.resource!.aws_cloudwatch_log_group[groupId(wrongKey, 'app')].kms_key_id = `\${aws_kms_key.${other}.arn}`;
      delete wrongKey.resource!.aws_cloudwatch_log_group[groupId(wrongKey, 'system')].kms_key_id;
      delete wrongKey.resource!.aws_cloudwatch_log_group[groupId(wrongKey, 'monitoring')].retention_in_days;
      expect(containerLogViolations({ ...base, platform: wrongKey })).toEqual([
        'output cloudwatch-app: the key policy of /surgeguard/surgeguard-prod-use1/containers/app does not let CloudWatch Logs use it for that group',
        'output cloudwatch-monitoring: log group /surgeguard/surgeguard-prod-use1/containers/monitoring has no retention',
        'output cloudwatch-system: log group /surgeguard/surgeguard-prod-use1/containers/system is not encrypted with a customer-managed key of the stack (kms_key_id unset)',
      ]);
    });

    it('fails for a wildcard resource, another action, or a group the role may not write', () => {
      const base = prod();
      const docId = Object.keys(base.platform.data!.aws_iam_policy_document).find((k) => k.startsWith('container-logs_shipper-policy-doc'))!;
      const wildcard = clone(base.platform);
      const st = wildcard.data!.aws_iam_policy_document[docId].statement[0];
      st.resources = ['*'];
      st.actions = [...st.actions, 'logs:CreateLogGroup'];
      const found = containerLogViolations({ ...base, platform: wildcard });
      expect(found).toContain("the shipper's role may logs:CreateLogGroup");
      expect(found).toContain("the shipper's role is granted resource *, not one of the shipped groups");
      expect(found).toContain("the shipper's role may not logs:PutLogEvents to /surgeguard/surgeguard-prod-use1/containers/app");
    });
  });

  describe('no kubernetes_manifest of a kind whose CRD is created in the same apply', () => {
    it('holds for every stack: the SecretProviderClass CRD comes from the platform stack\'s EKS add-on, which the workloads depend on', () => {
      for (const name of app.stackNames) {
        const deps = (dependencies[name] ?? []).map((d) => app.stack(d));
        expect(manifestsWithoutInstalledCrd(app.stack(name), deps)).toEqual([]);
      }
      const workloads = app.stack('prod-us-east-1-workloads');
      expect(Object.values(workloads.resource!.kubernetes_manifest).map((m: any) => m.manifest.kind)).toEqual(['SecretProviderClass']);
    });

    it('fails for a manifest next to the release that installs its CRD, and for one whose CRD nothing before it installs', () => {
      const base = region('prod', 'us-east-1');
      const manifest = Object.values(base.workloads.resource!.kubernetes_manifest)[0];
      const platform = clone(base.platform);
      platform.resource!.kubernetes_manifest = { spc: manifest };
      expect(manifestsWithoutInstalledCrd(platform, [])).toEqual([
        'kubernetes_manifest.spc: its CRD (secrets-store.csi.x-k8s.io/SecretProviderClass) is installed in the same stack',
      ]);
      const noAddon = clone(base.platform);
      for (const [id, a] of Object.entries(noAddon.resource!.aws_eks_addon as Record<string, any>)) {
        if (a.addon_name === 'aws-secrets-store-csi-driver-provider') delete noAddon.resource!.aws_eks_addon[id];
      }
      expect(manifestsWithoutInstalledCrd(base.workloads, [noAddon, base.addons])).toEqual([
        expect.stringContaining('no stack it depends on installs the CRD of secrets-store.csi.x-k8s.io/SecretProviderClass'),
      ]);
    });
  });

  describe('stack order', () => {
    it('applies platform, then add-ons, then workloads, in every region of every environment', () => {
      for (const env of Object.keys(ENVIRONMENTS)) expect(stackOrderViolations(dependencies, env, regionsOf(env))).toEqual([]);
      expect(dependencies['prod-us-east-1-addons']).toEqual(['prod-us-east-1']);
    });

    it('is the order docs/deploying.md gives, with the prerequisites of a fresh account', () => {
      const page = readFileSync(join(__dirname, '..', '..', 'docs', 'deploying.md'), 'utf8');
      expect(deployDocViolations(page, dependencies, 'prod', 'us-east-1')).toEqual([]);
      const swapped = page.replace('`<env>-<region>-addons` → `<env>-<region>-workloads`', '`<env>-<region>-workloads` → `<env>-<region>-addons`');
      expect(swapped).not.toBe(page);
      expect(deployDocViolations(swapped, dependencies, 'prod', 'us-east-1')).toEqual([
        'the Order section lists prod-us-east-1-workloads before prod-us-east-1-addons, which it depends on',
      ]);
      expect(deployDocViolations(page.replace(/L-417A185B/g, 'L-XXXX'), dependencies, 'prod', 'us-east-1')).toEqual([
        'the prerequisites do not name the P-instance quotas (L-417A185B, L-7212CCBC)',
      ]);
    });

    it('fails when the workloads stack does not wait for the add-ons, or the add-ons stack is missing', () => {
      const doctored = { ...dependencies, 'prod-us-east-1-workloads': ['prod-us-east-1'] };
      expect(stackOrderViolations(doctored, 'prod', regionsOf('prod'))).toEqual(['prod-us-east-1-workloads does not depend on prod-us-east-1-addons']);
      const { ['prod-eu-west-1-addons']: _gone, ...missing } = dependencies;
      expect(stackOrderViolations(missing, 'prod', regionsOf('prod'))).toContain('prod-eu-west-1-addons is missing');
    });
  });

  describe('provider auth that outlives a long apply', () => {
    it('uses aws eks get-token in every stack with a Kubernetes or Helm provider, and no aws_eks_cluster_auth anywhere', () => {
      let providers = 0;
      for (const name of app.stackNames) {
        const tf = app.stack(name);
        providers += (tf.provider?.kubernetes ?? []).length + (tf.provider?.helm ?? []).length;
        expect(providersWithoutExecAuth(tf)).toEqual([]);
      }
      expect(providers).toBe(12); // a Helm provider per add-ons stack, a Kubernetes provider per workloads stack
    });

    it('fails for a static token or a cluster-auth data source', () => {
      const workloads = clone(region('prod', 'us-east-1').workloads);
      workloads.provider!.kubernetes[0].token = '${data.aws_eks_cluster_auth.auth.token}';
      delete workloads.provider!.kubernetes[0].exec;
      workloads.data!.aws_eks_cluster_auth = { auth: { name: 'c' } };
      expect(providersWithoutExecAuth(workloads)).toEqual([
        'provider kubernetes: static token',
        'provider kubernetes: no aws eks get-token exec',
        'data.aws_eks_cluster_auth.auth: a 15-minute token',
      ]);
      const addons = clone(region('prod', 'us-east-1').addons);
      addons.provider!.helm[0].kubernetes.exec.args = ['eks', 'describe-cluster'];
      expect(providersWithoutExecAuth(addons)).toEqual(['provider helm: no aws eks get-token exec']);
    });
  });
});
