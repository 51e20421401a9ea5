import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';
import { ENVIRONMENTS } from '../../envs';
import { synthesize } from '../../main';
import { formatProblems, helmReleasesToYamlComments, renderCellManifests, toYaml } from '../../scripts/manifests';
import { ADDON_CHARTS } from '../../constructs/addons/charts';
import { KubernetesSchema } from '../../scripts/manifests/kubernetes-schema';
import { ManifestRenderer } from '../../scripts/manifests/render';

/** Custom resources whose schemas the repository does not carry (their CRDs come with their add-ons). */
const CUSTOM_RESOURCES = new Set(['secrets-store.csi.x-k8s.io/v1 SecretProviderClass']);

const outdir = mkdtempSync(join(tmpdir(), 'surgeguard-manifests-test-'));
beforeAll(() => {
  synthesize('all', outdir);
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const cells = Object.values(ENVIRONMENTS).flatMap((env) => env.regions.map((r) => [env.name, r.region] as const));

describe('npm run manifests: every Kubernetes object, rendered and validated against the cluster version schema', () => {
  it.each(cells)('%s %s: every object renders and is valid Kubernetes 1.32', (env, region) => {
    const result = renderCellManifests(outdir, env, region);
    expect(result.kubernetesVersion).toBe('1.32');
    expect(result.objects.length).toBeGreaterThan(20);
    expect(formatProblems(result.objects)).toEqual([]);
    const unchecked = result.objects.filter((o) => o.problems === undefined).map((o) => `${o.object.apiVersion} ${o.object.kind}`);
    for (const kind of unchecked) expect(CUSTOM_RESOURCES).toContain(kind);
  });

  it('renders every kubernetes_* resource of the workloads stack, none dropped', () => {
    const result = renderCellManifests(outdir, 'prod', 'eu-west-1');
    const workloads = result.objects.filter((o) => o.stack === 'prod-eu-west-1-workloads');
    const tf = JSON.parse(require('fs').readFileSync(join(outdir, 'stacks', 'prod-eu-west-1-workloads', 'cdk.tf.json'), 'utf8'));
    const declared = Object.entries(tf.resource as Record<string, Record<string, unknown>>)
      .filter(([type]) => type.startsWith('kubernetes_'))
      .flatMap(([type, byName]) => Object.keys(byName).map((n) => `${type}.${n}`))
      .sort();
    expect(workloads.map((o) => o.address).sort()).toEqual(declared);
  });

  it('maps the provider field names onto the API (plural lists, one-block lists as objects, numbers, int-or-string)', () => {
    const result = renderCellManifests(outdir, 'dev', 'us-east-1');
    const server = result.objects.find((o) => o.object.kind === 'Deployment' && o.object.metadata?.name === 'surgeguard-model-server')!.object as any;
    expect(server.metadata.namespace).toBe('surgeguard-inference'); // resolved from the namespace resource
    expect(server.spec.replicas).toBe(1);
    const pod = server.spec.template.spec;
    expect(pod.containers).toHaveLength(1);
    expect(pod.containers[0].ports[0]).toEqual({ name: 'http', containerPort: 8000 });
    expect(pod.containers[0].readinessProbe.httpGet.port).toBe(8000);
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key).toBe('surgeguard.io/pool');
    const hpa = result.objects.find((o) => o.object.kind === 'HorizontalPodAutoscaler' && o.object.metadata?.name === 'surgeguard-proxy')!.object as any;
    expect(hpa.spec.metrics.map((m: any) => m.type)).toEqual(['Resource', 'Pods']);
    expect(hpa.spec.behavior.scaleUp.policies).toHaveLength(2);
  });

  it('prints one YAML document per object that parses back to the same objects', () => {
    const result = renderCellManifests(outdir, 'staging', 'us-east-1');
    const docs = parseAllDocuments(toYaml(result.objects)).map((d) => d.toJS());
    expect(docs).toEqual(result.objects.map((o) => o.object));
  });

  it('lists every Helm release of the cell with chart, version, repository, namespace and values, as comments kubectl ignores', () => {
    const result = renderCellManifests(outdir, 'prod', 'us-east-1');
    const tf = JSON.parse(require('fs').readFileSync(join(outdir, 'stacks', 'prod-us-east-1-addons', 'cdk.tf.json'), 'utf8'));
    expect(result.helmReleases.map((r) => r.address).sort()).toEqual(Object.keys(tf.resource.helm_release).map((id) => `helm_release.${id}`).sort());
    const charts = Object.values(ADDON_CHARTS);
    for (const r of result.helmReleases) {
      expect(r.stack).toBe('prod-us-east-1-addons');
      expect(charts).toContainEqual({ repository: r.repository, chart: r.chart, version: r.version });
      expect(r.namespace).toBe('kube-system');
    }
    const adapter = result.helmReleases.find((r) => r.chart === 'prometheus-adapter')!;
    expect(adapter.values).toMatchObject({ rules: { default: false }, image: { repository: 'registry.k8s.io/prometheus-adapter/prometheus-adapter' } });
    const comments = helmReleasesToYamlComments(result.helmReleases);
    expect(comments).toContain('# release kube-system/prometheus-adapter: chart prometheus-adapter 5.3.0 from https://prometheus-community.github.io/helm-charts');
    expect(comments).toContain('#     repository: registry.k8s.io/prometheus-adapter/prometheus-adapter');
    // Appended to the objects, the releases change nothing a YAML reader (or kubectl) sees.
    const withReleases = parseAllDocuments(toYaml(result.objects) + comments).map((d) => d.toJS());
    expect(withReleases).toEqual(result.objects.map((o) => o.object));
    expect(renderCellManifests(outdir, 'prod', 'us-east-1').helmReleases).toEqual(result.helmReleases);
  });

  it('names an unknown environment or region', () => {
    expect(() => renderCellManifests(outdir, 'qa', 'us-east-1')).toThrow('manifests: unknown environment "qa"');
    expect(() => renderCellManifests(outdir, 'dev', 'eu-west-1')).toThrow('environment "dev" has no region "eu-west-1" (regions: us-east-1)');
  });
});

describe('the schema check catches an invalid object', () => {
  const schema = new KubernetesSchema('1.32');
  const deployment = () => structuredClone(renderCellManifests(outdir, 'dev', 'us-east-1').objects.find((o) => o.object.kind === 'Deployment')!.object) as any;

  it('accepts the rendered Deployment as it is', () => {
    expect(schema.validate(deployment())).toEqual([]);
  });

  it('rejects a misspelt field, a wrong type, a missing required field and a wrong kind, naming each path', () => {
    const d = deployment();
    d.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
    d.spec.replicas = 'three';
    delete d.spec.template.spec.containers[0].name;
    const problems = schema.validate(d)!;
    expect(problems).toEqual(
      expect.arrayContaining([
        { path: '/spec/template/spec/containers/0', message: 'must NOT have additional properties (imagePullPolicyy)' },
        { path: '/spec/replicas', message: 'must be integer' },
        { path: '/spec/template/spec/containers/0', message: "must have required property 'name'" },
      ]),
    );
    expect(schema.validate({ ...deployment(), apiVersion: 'apps/v1beta1' })).toBeUndefined();
  });

  it('fails rendering a provider field that has no counterpart in the API, naming resource and path', () => {
    const renderer = new ManifestRenderer(schema);
    const tf = { resource: { kubernetes_service_v1: { svc: { metadata: { name: 'x' }, spec: { port: [{ port: 80 }], cluster_ipp: 'None' } } } } };
    expect(() => renderer.renderStack('s', tf)).toThrow('s: kubernetes_service_v1.svc: /spec: field "cluster_ipp" has no counterpart in the Kubernetes 1.32 schema');
  });

  it('fails rendering a resource type it has no kind for', () => {
    const renderer = new ManifestRenderer(schema);
    expect(() => renderer.renderStack('s', { resource: { kubernetes_widget_v1: { w: { metadata: { name: 'w' } } } } })).toThrow('no Kubernetes kind known for resource type kubernetes_widget_v1');
  });

  it('has no schema for a cluster version the repository does not carry', () => {
    expect(() => new KubernetesSchema('1.99')).toThrow('no Kubernetes schema for cluster version 1.99');
  });
});
