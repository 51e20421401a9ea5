import { Construct } from 'constructs';
import { RuntimeWorkload, RuntimeWorkloadProps, RuntimeWorkloadSpec } from '../../../constructs/workloads/runtime-workload';
import { synthConstruct } from '../../support/synth';

type Resources = Record<string, Record<string, Record<string, any>>>;

function synth(build: (scope: Construct) => void): Resources {
  return synthConstruct(build, { kubernetes: true }).resource as Resources;
}

const runtime: RuntimeWorkloadProps & RuntimeWorkloadSpec = {
  image: 'registry.example.com/surgeguard/worker:1.0.0',
  config: { broker: { url: 'amqps://mq.example.com' } },
  name: 'my-worker',
  namespace: 'apps',
  port: 8090,
  healthPath: '/healthz',
  readyPath: '/readyz',
  metricsPath: '/metrics',
  minReplicas: 1,
  maxReplicas: 4,
  priorityClassName: 'batch',
  terminationGracePeriodSeconds: 60,
  defaultResources: { cpu: '500m', memory: '512Mi' },
  zoneSpread: 'ScheduleAnyway',
  autoscalingMetrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
  autoscalingBehavior: {},
};

describe('RuntimeWorkload', () => {
  it('creates config, service account, Deployment, HPA and PDB, and a NodePort Service only when asked', () => {
    const r = synth((s) => new RuntimeWorkload(s, 'worker', runtime));
    expect(Object.keys(r.kubernetes_config_map_v1)).toEqual(['worker-config']);
    expect(Object.keys(r.kubernetes_service_account_v1)).toEqual(['worker-service-account']);
    expect(Object.keys(r.kubernetes_deployment_v1)).toEqual(['worker']);
    expect(Object.keys(r.kubernetes_horizontal_pod_autoscaler_v2)).toEqual(['WorkerHpa']);
    expect(Object.keys(r.kubernetes_pod_disruption_budget_v1)).toEqual(['WorkerPdb']);
    expect(r.kubernetes_service_v1).toBeUndefined();
    const withService = synth((s) => new RuntimeWorkload(s, 'proxy', { ...runtime, nodePort: 30080 }));
    expect(withService.kubernetes_service_v1.ProxyService.spec).toMatchObject({ type: 'NodePort', port: [{ node_port: 30080, port: 8090 }] });
  });

  it('scales on the metrics it is given, between its replica bounds', () => {
    const hpa = synth((s) => new RuntimeWorkload(s, 'worker', runtime)).kubernetes_horizontal_pod_autoscaler_v2.WorkerHpa;
    expect(hpa.spec).toMatchObject({ min_replicas: 1, max_replicas: 4, metric: [{ type: 'Resource', resource: { name: 'cpu' } }] });
  });

  it.each([
    ['minReplicas', { minReplicas: 0 }],
    ['maxReplicas', { maxReplicas: 0 }],
    ['secretEnv', { secretEnv: [{ envName: 'lower-case', secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x' }] }],
  ] as [string, Partial<RuntimeWorkloadSpec & RuntimeWorkloadProps>][])('rejects a bad %s, naming the construct, its id and the prop', (prop, bad) => {
    expect(() => synth((s) => new RuntimeWorkload(s, 'worker', { ...runtime, ...bad }))).toThrow(`RuntimeWorkload worker: ${prop} `);
  });
});
