import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ClusterMonitoring, ClusterMonitoringProps, DATASOURCE_UID, GRAFANA_NAME, loadDashboards } from '../../../constructs/monitoring/cluster-monitoring';
import { SCRAPER_KUBERNETES_USER } from '../../../constructs/monitoring/monitoring';
import { METRIC } from '../../../contract/metrics';
import { synthConstruct } from '../../support/synth';

type Resources = Record<string, Record<string, Record<string, any>>>;

function synth(overrides: Partial<ClusterMonitoringProps> = {}): Resources {
  return synthConstruct((stack) => new ClusterMonitoring(stack, 'Monitoring', {
    namespace: 'surgeguard-monitoring',
    prometheusEndpoint: 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-123/',
    region: 'us-east-1',
    grafanaRoleArn: 'arn:aws:iam::123456789012:role/grafana',
    ...overrides,
  }), { kubernetes: true }).resource as Resources;
}

const first = (r: Resources, type: string, name: string) => Object.values(r[type]).find((x) => x.metadata.name === name)!;

describe('ClusterMonitoring', () => {
  const resources = synth();

  it('binds the managed collector user to a read-only discovery role', () => {
    const binding = Object.values(resources.kubernetes_cluster_role_binding_v1)[0];
    expect(binding.subject).toEqual([{ kind: 'User', name: SCRAPER_KUBERNETES_USER, api_group: 'rbac.authorization.k8s.io' }]);
    const role = Object.values(resources.kubernetes_cluster_role_v1)[0];
    const verbs = role.rule.flatMap((r: { verbs: string[] }) => r.verbs);
    expect(verbs).not.toContain('create');
    expect(verbs).not.toContain('delete');
    expect(verbs).not.toContain('update');
  });

  it('provisions the AMP data source with SigV4 through the IRSA role', () => {
    const cm = first(resources, 'kubernetes_config_map_v1', `${GRAFANA_NAME}-provisioning`);
    const ds = parse(cm.data['datasources.yaml']).datasources[0];
    expect(ds).toMatchObject({
      uid: DATASOURCE_UID,
      type: 'prometheus',
      url: 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-123/',
      jsonData: { sigV4Auth: true, sigV4AuthType: 'default', sigV4Region: 'us-east-1' },
    });
    const sa = first(resources, 'kubernetes_service_account_v1', 'surgeguard-grafana');
    expect(sa.metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/grafana' });
  });

  it('provisions every dashboard of monitoring/dashboards from a ConfigMap, read-only, with no login', () => {
    const cm = first(resources, 'kubernetes_config_map_v1', `${GRAFANA_NAME}-dashboards`);
    expect(cm.data).toEqual(loadDashboards());
    const c = first(resources, 'kubernetes_deployment_v1', GRAFANA_NAME).spec.template.spec.container[0];
    expect(c.env).toEqual(expect.arrayContaining([
      { name: 'GF_AUTH_ANONYMOUS_ORG_ROLE', value: 'Viewer' },
      { name: 'GF_AUTH_DISABLE_LOGIN_FORM', value: 'true' },
    ]));
    expect(c.security_context).toMatchObject({ read_only_root_filesystem: true, allow_privilege_escalation: false, run_as_non_root: true });
    expect(first(resources, 'kubernetes_service_v1', GRAFANA_NAME).spec.type).toBe('ClusterIP');
  });

  it('rejects a dashboard that is not JSON, naming it', () => {
    expect(() => synth({ dashboards: { 'broken.json': '{' } })).toThrow('ClusterMonitoring Monitoring: dashboards["broken.json"] is not JSON');
  });
});

describe('the dashboards in monitoring/dashboards', () => {
  const dashboards = Object.entries(loadDashboards());

  it('are all listed in monitoring/dashboards/index.ts, byte for byte as reviewed', () => {
    const dir = join(__dirname, '..', '..', '..', 'monitoring', 'dashboards');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    expect(Object.keys(loadDashboards()).sort()).toEqual(files);
    for (const f of files) expect(loadDashboards()[f]).toBe(readFileSync(join(dir, f), 'utf8'));
  });

  it('exist and have unique uids', () => {
    expect(dashboards.length).toBeGreaterThan(0);
    const uids = dashboards.map(([, json]) => JSON.parse(json).uid);
    expect(new Set(uids).size).toBe(uids.length);
  });

  it('query only the provisioned data source and metrics the runtimes or vLLM export', () => {
    const known = new Set<string>(Object.values(METRIC));
    for (const [, json] of dashboards) {
      const d = JSON.parse(json) as { panels: { datasource: { uid: string }; targets: { expr: string; datasource: { uid: string } }[] }[] };
      expect(d.panels.length).toBeGreaterThan(0);
      for (const p of d.panels) {
        expect(p.datasource.uid).toBe(DATASOURCE_UID);
        for (const t of p.targets) {
          expect(t.datasource.uid).toBe(DATASOURCE_UID);
          for (const name of t.expr.match(/surgeguard_[a-z_]+/g) ?? []) expect([name, known.has(name.replace(/_bucket$/, ''))]).toEqual([name, true]);
          expect(t.expr).toMatch(/surgeguard_|vllm:/);
        }
      }
    }
  });
});
