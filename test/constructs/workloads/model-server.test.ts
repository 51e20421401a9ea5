import { WORKLOAD_NAMES } from '../../../contract/service';
import { TerraformVariable } from 'cdktf';
import { Construct } from 'constructs';
import { ModelServer, ModelServerProps } from '../../../constructs/workloads/model-server';
import { synthConstruct } from '../../support/synth';

type Resources = Record<string, Record<string, Record<string, any>>>;

function synth(build: (scope: Construct) => void): Resources {
  return synthConstruct(build, { kubernetes: true }).resource as Resources;
}

const modelServer: ModelServerProps = {
  image: 'vllm/vllm-openai:v0.8.5',
  modelId: 'meta-llama/Llama-3.1-8B-Instruct',
  servedModelName: 'llama-3.1-8b',
  tensorParallelSize: 1,
  maxConcurrentSequences: 64,
};

describe('ModelServer', () => {
  it('creates its Deployment, headless Service, HPA and PDB in the given scope under ids derived from its id', () => {
    const r = synth((s) => new ModelServer(s, 'Llama', { ...modelServer, namespace: 'models' }));
    expect(Object.keys(r.kubernetes_deployment_v1)).toEqual(["Llama"]);
    expect(Object.keys(r.kubernetes_service_v1)).toEqual(['LlamaService']);
    expect(Object.keys(r.kubernetes_horizontal_pod_autoscaler_v2)).toEqual(['LlamaHpa']);
    expect(Object.keys(r.kubernetes_pod_disruption_budget_v1)).toEqual(['LlamaPdb']);
    expect(r.kubernetes_service_v1.LlamaService.spec.cluster_ip).toBe('None');
    expect(r.kubernetes_deployment_v1.Llama.metadata.namespace).toBe('models');
  });

  it('exposes the in-cluster URL of its headless Service', () => {
    let url = '';
    synth((s) => (url = new ModelServer(s, 'm', { ...modelServer, namespace: 'models' }).url));
    expect(url).toMatch(new RegExp(`^http://${WORKLOAD_NAMES.modelServer}\\.models\\.svc\\.cluster\\.local:\\d+$`));
  });

  it.each([
    ['tensorParallelSize', { tensorParallelSize: 9 }],
    ['maxConcurrentSequences', { maxConcurrentSequences: 0 }],
    ['maxReplicas', { minReplicas: 3, maxReplicas: 2 }],
  ] as [string, Partial<ModelServerProps>][])('rejects a bad %s, naming the construct, its id and the prop', (prop, bad) => {
    expect(() => synth((s) => new ModelServer(s, 'm', { ...modelServer, ...bad, namespace: 'models' }))).toThrow(`ModelServer m: ${prop} `);
  });

  it('accepts a Terraform variable where a number is checked (validated by Terraform at plan time)', () => {
    const r = synth((s) => {
      const replicas = new TerraformVariable(s, 'replicas', { type: 'number' });
      new ModelServer(s, 'm', { ...modelServer, namespace: 'models', minReplicas: replicas.numberValue, maxReplicas: 8 });
    });
    expect(r.kubernetes_horizontal_pod_autoscaler_v2.mHpa.spec.min_replicas).toBe('${var.replicas}');
  });
});
