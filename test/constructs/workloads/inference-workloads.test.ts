import { parse } from 'yaml';
import { GPU_TAINT, NODE_POOL_LABEL } from '../../../constructs/cluster/node-group';
import { InferenceWorkloads, InferenceWorkloadsProps } from '../../../constructs/workloads/inference-workloads';
import { MODEL_SERVER_CONTRACT, PROXY_CONTRACT, WORKER_CONTRACT, WORKLOAD_NAMES } from '../../../contract/service';
import { synthConstruct } from '../../support/synth';

type Resources = Record<string, Record<string, Record<string, any>>>;

const REDIS_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:surgeguard/x/redis-auth-token-AbCdEf';
const MQ_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:surgeguard/x/rabbitmq-password-GhIjKl';

function baseProps(): InferenceWorkloadsProps {
  return {
    appNamespace: 'surgeguard',
    inferenceNamespace: 'surgeguard-inference',
    modelServer: {
      image: 'vllm/vllm-openai:v0.8.5@sha256:6cf9808ca8810fc6c3fd0451c2e7784fb224590d81f7db338e7eaf3c02a33d33',
      modelId: 'deepseek-ai/DeepSeek-V3',
      weights: { s3Uri: 's3://surgeguard-weights-example/deepseek-ai/DeepSeek-V3/', region: 'us-east-1', roleArn: 'arn:aws:iam::123456789012:role/model-server' },
      servedModelName: 'deepseek-v3',
      tensorParallelSize: 8,
      quantization: 'fp8',
      maxConcurrentSequences: 256,
      minReplicas: 2,
      maxReplicas: 8,
    },
    proxy: {
      image: `registry.example.com/surgeguard/proxy@sha256:${'a'.repeat(64)}`,
      config: { server: { port: PROXY_CONTRACT.port }, redis: { password: { fromEnv: 'SURGEGUARD_REDIS_AUTH_TOKEN' } } },
      secretEnv: [{ envName: 'SURGEGUARD_REDIS_AUTH_TOKEN', secretArn: REDIS_SECRET }],
      roleArn: 'arn:aws:iam::123456789012:role/proxy',
    },
    worker: {
      image: `registry.example.com/surgeguard/worker@sha256:${'b'.repeat(64)}`,
      config: { broker: { password: { fromEnv: 'SURGEGUARD_AMQP_PASSWORD' } } },
      secretEnv: [
        { envName: 'SURGEGUARD_REDIS_AUTH_TOKEN', secretArn: REDIS_SECRET },
        { envName: 'SURGEGUARD_AMQP_PASSWORD', secretArn: MQ_SECRET },
      ],
      roleArn: 'arn:aws:iam::123456789012:role/worker',
    },
    metricsScraperCidrs: ['10.30.0.0/20'],
  };
}

function synth(mutate: (p: InferenceWorkloadsProps) => InferenceWorkloadsProps = (p) => p): Resources {
  return synthConstruct((stack) => new InferenceWorkloads(stack, 'Workloads', mutate(baseProps())), { kubernetes: true }).resource as Resources;
}

const byName = (r: Resources, type: string, name: string) => {
  const found = Object.values(r[type] ?? {}).filter((x) => x.metadata.name === name);
  expect(found).toHaveLength(1);
  return found[0];
};
const podSpec = (d: Record<string, any>) => d.spec.template.spec;

describe('InferenceWorkloads', () => {
  const resources = synth();

  it('declares PriorityClasses with critical serving above batch, batch never preempting', () => {
    const pcs = Object.values(resources.kubernetes_priority_class_v1);
    const value = (n: string) => pcs.find((p) => p.metadata.name === n)!.value;
    expect(value('surgeguard-gateway')).toBeGreaterThan(value('surgeguard-serving'));
    expect(value('surgeguard-serving')).toBeGreaterThan(value('surgeguard-batch'));
    expect(pcs.find((p) => p.metadata.name === 'surgeguard-batch')!.preemption_policy).toBe('Never');
    expect(pcs.every((p) => p.global_default === false)).toBe(true);
  });

  it('runs the model server on GPU nodes: tolerates the GPU taint, requires the gpu pool, prefers on-demand', () => {
    const spec = podSpec(byName(resources, 'kubernetes_deployment_v1', WORKLOAD_NAMES.modelServer));
    expect(spec.toleration).toEqual([{ key: GPU_TAINT.key, operator: 'Equal', value: GPU_TAINT.value, effect: 'NoSchedule' }]);
    const affinity = spec.affinity.node_affinity;
    expect(affinity.required_during_scheduling_ignored_during_execution.node_selector_term).toEqual([
      { match_expressions: [{ key: NODE_POOL_LABEL, operator: 'In', values: ['gpu'] }] },
    ]);
    expect(affinity.preferred_during_scheduling_ignored_during_execution[0].preference.match_expressions[0]).toEqual({
      key: 'surgeguard.io/capacity',
      operator: 'In',
      values: ['on-demand'],
    });
    expect(spec.priority_class_name).toBe('surgeguard-serving');
  });

  it('passes model, tensor-parallel size, quantisation and max sequences to vLLM and requests that many GPUs', () => {
    const c = podSpec(byName(resources, 'kubernetes_deployment_v1', WORKLOAD_NAMES.modelServer)).container[0];
    expect(c.image).toBe('vllm/vllm-openai:v0.8.5@sha256:6cf9808ca8810fc6c3fd0451c2e7784fb224590d81f7db338e7eaf3c02a33d33');
    const arg = (flag: string) => c.args[c.args.indexOf(flag) + 1];
    expect(arg('--model')).toBe('s3://surgeguard-weights-example/deepseek-ai/DeepSeek-V3/');
    expect(arg('--load-format')).toBe('runai_streamer');
    expect(arg('--gpu-memory-utilization')).toBe('0.9');
    expect(arg('--served-model-name')).toBe('deepseek-v3');
    expect(arg('--tensor-parallel-size')).toBe('8');
    expect(arg('--quantization')).toBe('fp8');
    expect(arg('--max-num-seqs')).toBe('256');
    expect(arg('--port')).toBe(String(MODEL_SERVER_CONTRACT.port));
    expect(c.resources.limits['nvidia.com/gpu']).toBe('8');
    expect(c.resources.requests['nvidia.com/gpu']).toBe('8');
    expect(c.startup_probe.http_get).toEqual({ path: MODEL_SERVER_CONTRACT.healthPath, port: String(MODEL_SERVER_CONTRACT.port) });
    expect(c.startup_probe.period_seconds * c.startup_probe.failure_threshold).toBeGreaterThanOrEqual(1800);
  });

  it('omits --quantization when none is set', () => {
    const r = synth((p) => ({ ...p, modelServer: { ...p.modelServer, quantization: undefined } }));
    expect(podSpec(byName(r, 'kubernetes_deployment_v1', WORKLOAD_NAMES.modelServer)).container[0].args).not.toContain('--quantization');
  });

  it('exposes the model servers through a headless Service so the proxy sees every endpoint', () => {
    const svc = byName(resources, 'kubernetes_service_v1', WORKLOAD_NAMES.modelServer);
    expect(svc.spec.cluster_ip).toBe('None');
    expect(svc.spec.port).toEqual([expect.objectContaining({ port: MODEL_SERVER_CONTRACT.port })]);
  });

  it('scales the GPU tier on waiting requests, not CPU', () => {
    const hpa = byName(resources, 'kubernetes_horizontal_pod_autoscaler_v2', WORKLOAD_NAMES.modelServer);
    expect(hpa.spec).toMatchObject({ min_replicas: 2, max_replicas: 8 });
    expect(hpa.spec.metric).toEqual([expect.objectContaining({ type: 'Pods', pods: expect.objectContaining({ metric: { name: 'vllm_num_requests_waiting' } }) })]);
  });

  it('puts the proxy behind the ALB NodePort of the service contract', () => {
    const svc = byName(resources, 'kubernetes_service_v1', WORKLOAD_NAMES.proxy);
    expect(svc.spec.type).toBe('NodePort');
    expect(svc.spec.port).toEqual([expect.objectContaining({ port: PROXY_CONTRACT.port, target_port: String(PROXY_CONTRACT.port), node_port: PROXY_CONTRACT.nodePort })]);
  });

  it('autoscales the proxy on CPU 70 % and in-flight requests, min 3, max 20, scale-up window 300 s, scale-down 600 s', () => {
    const hpa = byName(resources, 'kubernetes_horizontal_pod_autoscaler_v2', WORKLOAD_NAMES.proxy).spec;
    expect(hpa).toMatchObject({ min_replicas: 3, max_replicas: 20 });
    expect(hpa.scale_target_ref).toMatchObject({ kind: 'Deployment' });
    expect(hpa.metric).toEqual([
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', average_utilization: 70 } } },
      { type: 'Pods', pods: { metric: { name: 'surgeguard_proxy_in_flight_requests' }, target: { type: 'AverageValue', average_value: '200' } } },
    ]);
    expect(hpa.behavior.scale_up[0].stabilization_window_seconds).toBe(300);
    expect(hpa.behavior.scale_down[0].stabilization_window_seconds).toBe(600);
  });

  it('keeps the proxy available through disruptions and spreads it over zones', () => {
    const pdb = byName(resources, 'kubernetes_pod_disruption_budget_v1', WORKLOAD_NAMES.proxy);
    expect(pdb.spec).toEqual({ max_unavailable: '1', selector: { match_labels: { 'app.kubernetes.io/name': WORKLOAD_NAMES.proxy } } });
    const spec = podSpec(byName(resources, 'kubernetes_deployment_v1', WORKLOAD_NAMES.proxy));
    expect(spec.topology_spread_constraint[0]).toEqual({
      max_skew: 1,
      topology_key: 'topology.kubernetes.io/zone',
      when_unsatisfiable: 'DoNotSchedule',
      label_selector: [{ match_labels: { 'app.kubernetes.io/name': WORKLOAD_NAMES.proxy } }],
    });
    expect(spec.node_selector).toEqual({ [NODE_POOL_LABEL]: 'cpu' });
    expect(spec.priority_class_name).toBe('surgeguard-gateway');
  });

  it('probes the runtimes on the health paths of the service contract', () => {
    const proxy = podSpec(byName(resources, 'kubernetes_deployment_v1', WORKLOAD_NAMES.proxy)).container[0];
    expect(proxy.liveness_probe.http_get).toEqual({ path: PROXY_CONTRACT.healthPath, port: String(PROXY_CONTRACT.port) });
    expect(proxy.readiness_probe.http_get).toEqual({ path: PROXY_CONTRACT.readyPath, port: String(PROXY_CONTRACT.port) });
    const worker = podSpec(byName(resources, 'kubernetes_deployment_v1', WORKLOAD_NAMES.worker)).container[0];
    expect(worker.liveness_probe.http_get).toEqual({ path: WORKER_CONTRACT.healthPath, port: String(WORKER_CONTRACT.port) });
    expect(worker.readiness_probe.http_get).toEqual({ path: WORKER_CONTRACT.readyPath, port: String(WORKER_CONTRACT.port) });
  });

  it('runs every container non-root, read-only, without privilege escalation or capabilities, under RuntimeDefault seccomp', () => {
    for (const d of Object.values(resources.kubernetes_deployment_v1)) {
      const spec = podSpec(d);
      expect(spec.security_context).toMatchObject({ run_as_non_root: true, seccomp_profile: { type: 'RuntimeDefault' } });
      for (const c of spec.container) {
        expect(c.security_context).toEqual({
          allow_privilege_escalation: false,
          privileged: false,
          read_only_root_filesystem: true,
          run_as_non_root: true,
          capabilities: { drop: ['ALL'] },
          seccomp_profile: { type: 'RuntimeDefault' },
        });
        expect(c.resources.requests.cpu).toBeDefined();
        expect(c.resources.limits.memory).toBe(c.resources.requests.memory);
      }
    }
  });

  it('sets only sysctls that the restricted Pod Security Standard allows', () => {
    const safe = new Set(['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes']);
    const proxy = podSpec(byName(resources, 'kubernetes_deployment_v1', WORKLOAD_NAMES.proxy));
    expect(proxy.security_context.sysctl).toEqual([{ name: 'net.ipv4.ip_local_port_range', value: '1024 65535' }]);
    for (const d of Object.values(resources.kubernetes_deployment_v1)) {
      for (const s of podSpec(d).security_context.sysctl ?? []) expect(safe.has(s.name)).toBe(true);
    }
  });

  it('lets only the proxy and the worker (and the metrics collector) reach the model servers', () => {
    const policy = byName(resources, 'kubernetes_network_policy_v1', `${WORKLOAD_NAMES.modelServer}-ingress`);
    expect(policy.spec.pod_selector).toEqual({ match_labels: { 'app.kubernetes.io/name': WORKLOAD_NAMES.modelServer } });
    expect(policy.spec.policy_types).toEqual(['Ingress']);
    const [clients, scraper] = policy.spec.ingress;
    expect(clients.from).toEqual([
      { namespace_selector: { match_labels: { 'kubernetes.io/metadata.name': 'surgeguard' } }, pod_selector: { match_labels: { 'app.kubernetes.io/name': WORKLOAD_NAMES.proxy } } },
      { namespace_selector: { match_labels: { 'kubernetes.io/metadata.name': 'surgeguard' } }, pod_selector: { match_labels: { 'app.kubernetes.io/name': WORKLOAD_NAMES.worker } } },
    ]);
    expect(scraper.from).toEqual([{ ip_block: { cidr: '10.30.0.0/20' } }]);
    expect(policy.spec.ingress).toHaveLength(2);
    const deny = byName(resources, 'kubernetes_network_policy_v1', 'default-deny-ingress');
    expect(deny.spec).toEqual({ pod_selector: {}, policy_types: ['Ingress'] });
  });

  it('scales the worker on queue depth (external metric) and gives it time to drain', () => {
    const hpa = byName(resources, 'kubernetes_horizontal_pod_autoscaler_v2', WORKLOAD_NAMES.worker).spec;
    expect(hpa.metric).toEqual([
      { type: 'External', external: { metric: { name: 'surgeguard_worker_queue_depth' }, target: { type: 'AverageValue', average_value: '100' } } },
    ]);
    const spec = podSpec(byName(resources, 'kubernetes_deployment_v1', WORKLOAD_NAMES.worker));
    expect(spec.termination_grace_period_seconds).toBe(60);
    expect(spec.priority_class_name).toBe('surgeguard-batch');
  });

  it('reads config from a ConfigMap and secrets from Secrets Manager through the CSI driver, with no value in synth', () => {
    const cm = byName(resources, 'kubernetes_config_map_v1', 'surgeguard-proxy-config');
    expect(parse(cm.data['proxy.yaml'])).toEqual(baseProps().proxy.config);
    const container = podSpec(byName(resources, 'kubernetes_deployment_v1', WORKLOAD_NAMES.worker)).container[0];
    expect(container.env).toContainEqual({ name: 'SURGEGUARD_CONFIG', value: '/etc/surgeguard/worker.yaml' });
    expect(container.env).toContainEqual({
      name: 'SURGEGUARD_AMQP_PASSWORD',
      value_from: { secret_key_ref: { name: WORKLOAD_NAMES.runtimeSecret, key: 'SURGEGUARD_AMQP_PASSWORD', optional: false } },
    });
    const spc = Object.values(resources.kubernetes_manifest)[0].manifest;
    expect(spc).toMatchObject({ apiVersion: 'secrets-store.csi.x-k8s.io/v1', kind: 'SecretProviderClass', spec: { provider: 'aws' } });
    expect(parse(spc.spec.parameters.objects)).toEqual([
      { objectName: REDIS_SECRET, objectAlias: 'surgeguard_redis_auth_token' },
      { objectName: MQ_SECRET, objectAlias: 'surgeguard_amqp_password' },
    ]);
    expect(spc.spec.secretObjects[0].secretName).toBe(WORKLOAD_NAMES.runtimeSecret);
    const volumes = podSpec(byName(resources, 'kubernetes_deployment_v1', WORKLOAD_NAMES.worker)).volume;
    expect(volumes).toContainEqual({ name: 'secrets', csi: { driver: 'secrets-store.csi.k8s.io', read_only: true, volume_attributes: { secretProviderClass: 'surgeguard-runtime' } } });
  });

  it('binds the runtimes to their IRSA roles through the service account annotation', () => {
    const sa = byName(resources, 'kubernetes_service_account_v1', WORKLOAD_NAMES.worker);
    expect(sa.metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/worker' });
  });

  it('marks pods for the metrics collector on the contract ports and paths', () => {
    const proxy = byName(resources, 'kubernetes_deployment_v1', WORKLOAD_NAMES.proxy);
    expect(proxy.spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(PROXY_CONTRACT.port),
      'prometheus.io/path': PROXY_CONTRACT.metricsPath,
    });
  });

  it('rolls the pods when the runtime config changes', () => {
    const other = synth((p) => ({ ...p, proxy: { ...p.proxy, config: { server: { port: 8081 } } } }));
    const hashOf = (r: Resources) => byName(r, 'kubernetes_deployment_v1', WORKLOAD_NAMES.proxy).spec.template.metadata.annotations['surgeguard.io/config-hash'];
    expect(hashOf(other)).not.toBe(hashOf(resources));
    expect(hashOf(synth())).toBe(hashOf(resources));
  });

  it('creates its namespaces when none are given', () => {
    const r = synth((p) => ({ ...p, appNamespace: undefined, inferenceNamespace: undefined }));
    expect(Object.values(r.kubernetes_namespace_v1).map((n) => n.metadata.name).sort()).toEqual(['surgeguard', 'surgeguard-inference']);
  });

  it.each([
    ['modelServer.tensorParallelSize', (p: InferenceWorkloadsProps) => ({ ...p, modelServer: { ...p.modelServer, tensorParallelSize: 16 } })],
    ['modelServer.maxReplicas', (p: InferenceWorkloadsProps) => ({ ...p, modelServer: { ...p.modelServer, maxReplicas: 1 } })],
    ['proxy.maxReplicas', (p: InferenceWorkloadsProps) => ({ ...p, proxy: { ...p.proxy, maxReplicas: 2 } })],
    ['proxy.cpuTargetPercent', (p: InferenceWorkloadsProps) => ({ ...p, proxy: { ...p.proxy, cpuTargetPercent: 100 } })],
    ['worker.minReplicas', (p: InferenceWorkloadsProps) => ({ ...p, worker: { ...p.worker, minReplicas: 0 } })],
    ['worker.secretEnv', (p: InferenceWorkloadsProps) => ({ ...p, worker: { ...p.worker, secretEnv: [{ envName: 'bad-name', secretArn: MQ_SECRET }] } })],
  ] as [string, (p: InferenceWorkloadsProps) => InferenceWorkloadsProps][])('rejects a bad %s, naming it', (prop, mutate) => {
    expect(() => synth(mutate)).toThrow(`InferenceWorkloads Workloads: ${prop} `);
  });
});
