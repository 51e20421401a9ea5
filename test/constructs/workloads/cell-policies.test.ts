import { Construct } from 'constructs';
import { CellPolicies } from '../../../constructs/workloads/cell-policies';
import { synthConstruct } from '../../support/synth';

type Resources = Record<string, Record<string, Record<string, any>>>;

function synth(build: (scope: Construct) => void): Resources {
  return synthConstruct(build, { kubernetes: true }).resource as Resources;
}

describe('CellPolicies', () => {
  it('creates the namespaces, PriorityClasses and NetworkPolicies, and a SecretProviderClass only when there are secrets', () => {
    const r = synth((s) => new CellPolicies(s, {}));
    expect(Object.keys(r.kubernetes_namespace_v1).sort()).toEqual(['Namespace-app', 'Namespace-inference']);
    expect(Object.keys(r.kubernetes_priority_class_v1).sort()).toEqual(['Priority-batch', 'Priority-gateway', 'Priority-serving']);
    expect(Object.keys(r.kubernetes_network_policy_v1).sort()).toEqual(['InferenceDefaultDeny', 'ModelServerPolicy']);
    expect(r.kubernetes_manifest).toBeUndefined();
    const withSecrets = synth((s) => new CellPolicies(s, { secretEnv: [{ envName: 'A', secretArn: 'arn:a' }, { envName: 'A', secretArn: 'arn:a' }] }));
    const spc = withSecrets.kubernetes_manifest.SecretProviderClass.manifest;
    expect(spc.spec.secretObjects[0].data).toEqual([{ objectName: 'a', key: 'A' }]);
  });

  it('uses given namespaces instead of creating them', () => {
    const r = synth((s) => new CellPolicies(s, { appNamespace: 'apps', inferenceNamespace: 'models' }));
    expect(r.kubernetes_namespace_v1).toBeUndefined();
    expect(r.kubernetes_network_policy_v1.InferenceDefaultDeny.metadata.namespace).toBe('models');
  });
});
