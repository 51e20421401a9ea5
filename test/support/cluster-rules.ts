/**
 * Rules a synthesized environment must satisfy for its cluster to run, feed and scale its workloads,
 * checked on the Terraform JSON (what `cdktf deploy` applies). Each returns the violations it finds,
 * one readable line each; an empty list means the rule holds. Pure functions of the JSON, so a test
 * can run them on a doctored copy and see them fail.
 */
import { CHART_CRDS, CHART_IMAGES } from '../../constructs/addons/charts';
import { EKS_ADDON_CRDS } from '../../constructs/addons/secrets-store-csi';
import { TfJson } from './synth';

/** The stacks of one region, as synthesized. */
export interface RegionStacks {
  readonly platform: TfJson;
  readonly addons: TfJson;
  readonly workloads: TfJson;
}

const releases = (tf: TfJson): any[] => Object.values(tf.resource?.helm_release ?? {});
const releaseOf = (tf: TfJson, chart: string): any | undefined => releases(tf).find((r) => r.chart === chart);
/** The parsed values of a release (surgeguard writes them as one JSON document). */
export const valuesOf = (release: any): any => JSON.parse(release.values[0]);

/** Metrics every HPA of the workloads stack names: `Resource:cpu`, `Pods:<name>`, `External:<name>`. */
export function hpaMetrics(workloads: TfJson): { hpa: string; type: string; name: string }[] {
  return Object.values(workloads.resource?.kubernetes_horizontal_pod_autoscaler_v2 ?? {}).flatMap((h: any) =>
    (h.spec.metric as any[]).map((m) => {
      const type: string = m.type;
      const block = m[type.toLowerCase()];
      const name: string = type === 'Resource' ? block.name : block.metric.name;
      return { hpa: h.metadata.name, type, name };
    }),
  );
}

/**
 * Every metric an HPA names has a provider in the add-ons stack: Resource metrics from metrics-server,
 * Pods metrics from a custom rule, External from an external rule of prometheus-adapter. External
 * metrics every pod reports identically (queue depths) must be reduced with `max` over the reporting
 * pods before anything is summed, never summed over pods.
 */
export function hpaMetricsWithoutProvider(region: RegionStacks): string[] {
  const problems: string[] = [];
  const metricsServer = releaseOf(region.addons, 'metrics-server');
  const adapter = releaseOf(region.addons, 'prometheus-adapter');
  const rules = adapter ? valuesOf(adapter).rules ?? {} : {};
  const served = (kind: 'custom' | 'external', name: string) => ((rules[kind] ?? []) as any[]).find((r) => r.name?.as === name);
  for (const m of hpaMetrics(region.workloads)) {
    const where = `HPA ${m.hpa}: ${m.type} metric ${m.name}`;
    if (m.type === 'Resource') {
      if (!metricsServer) problems.push(`${where}: no metrics-server release`);
    } else if (m.type === 'Pods') {
      if (!served('custom', m.name)) problems.push(`${where}: no prometheus-adapter custom rule serves it`);
    } else if (m.type === 'External') {
      const rule = served('external', m.name);
      if (!rule) problems.push(`${where}: no prometheus-adapter external rule serves it`);
      else if (!/max by \([^)]*\) \(<<\.Series>>/.test(rule.metricsQuery)) {
        problems.push(`${where}: query "${rule.metricsQuery}" does not take the max over the pods reporting the same value (it would count it once per pod)`);
      }
    } else {
      problems.push(`${where}: metric type not served by any add-on`);
    }
  }
  return problems;
}

/** The platform-stack expression a cross-stack reference in a later stack stands for. */
function resolveRemote(ref: string, platform: TfJson): string | undefined {
  const m = /^\$\{data\.terraform_remote_state\.[^.]+\.outputs\.([A-Za-z0-9_-]+)\}$/.exec(ref);
  return m ? platform.output?.[m[1]]?.value : undefined;
}

/**
 * Every node group that can change size is managed by a Cluster Autoscaler that discovers its
 * cluster's groups and has an expander priority for it; every GPU group carries the accelerator
 * label the autoscaler reads and is covered by the device plugin's node affinity.
 */
export function nodeGroupsWithoutAutoscaler(region: RegionStacks): string[] {
  const problems: string[] = [];
  const ca = releaseOf(region.addons, 'cluster-autoscaler');
  const values = ca ? valuesOf(ca) : undefined;
  const discovered = values ? resolveRemote(values.autoDiscovery?.clusterName ?? '', region.platform) : undefined;
  const patterns = Object.values(values?.expanderPriorities ?? {}).flat() as string[];
  const plugin = releaseOf(region.addons, 'nvidia-device-plugin');
  const affinity = plugin ? valuesOf(plugin).affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [] : [];
  for (const g of Object.values(region.platform.resource?.aws_eks_node_group ?? {}) as any[]) {
    const where = `node group ${g.node_group_name}`;
    const scaling = g.scaling_config;
    if (scaling.min_size < scaling.max_size) {
      if (!values) problems.push(`${where}: no cluster-autoscaler release`);
      else if (discovered !== g.cluster_name) problems.push(`${where}: the autoscaler discovers ${discovered ?? values.autoDiscovery?.clusterName}, not ${g.cluster_name}`);
      else if (values.cloudProvider !== 'aws') problems.push(`${where}: the autoscaler's cloud provider is ${values.cloudProvider}`);
      else {
        const asg = `eks-${g.node_group_name}-0ac4b1c2-5d6e-7f80-9a1b-2c3d4e5f6a7b`;
        if (!patterns.some((p) => new RegExp(p).test(asg))) problems.push(`${where}: no expander priority matches its Auto Scaling group`);
      }
    }
    if (g.labels?.['surgeguard.io/pool'] === 'gpu') {
      if (g.labels['k8s.amazonaws.com/accelerator'] === undefined) problems.push(`${where}: GPU group without the k8s.amazonaws.com/accelerator label`);
      const covered = affinity.some((term: any) =>
        (term.matchExpressions as any[]).every((e) => e.operator === 'In' && (e.values as string[]).includes(g.labels[e.key])),
      );
      if (!covered) problems.push(`${where}: the NVIDIA device plugin does not run on it`);
    }
  }
  return problems;
}

/** `group/Kind` of a manifest's object (`secrets-store.csi.x-k8s.io/SecretProviderClass`; core kinds `/Pod`). */
const manifestKind = (m: any): string => {
  const apiVersion: string = m.manifest.apiVersion;
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  return `${group}/${m.manifest.kind}`;
};
/** CRDs a stack installs: through its Helm releases' charts and its EKS add-ons. */
const crdsInstalledBy = (tf: TfJson): string[] => [
  ...releases(tf).flatMap((r) => CHART_CRDS[r.chart] ?? []),
  ...Object.values(tf.resource?.aws_eks_addon ?? {}).flatMap((a: any) => EKS_ADDON_CRDS[a.addon_name] ?? []),
];

/**
 * No `kubernetes_manifest` of a kind whose CRD a release of the same stack installs (the provider
 * needs the CRD at plan time), and every custom kind a manifest uses is installed by a stack it
 * depends on (so it is applied first).
 */
export function manifestsWithoutInstalledCrd(stack: TfJson, dependencies: readonly TfJson[]): string[] {
  const problems: string[] = [];
  const own = new Set(crdsInstalledBy(stack));
  const earlier = new Set(dependencies.flatMap(crdsInstalledBy));
  for (const [id, m] of Object.entries(stack.resource?.kubernetes_manifest ?? {})) {
    const kind = manifestKind(m);
    if (own.has(kind)) problems.push(`kubernetes_manifest.${id}: its CRD (${kind}) is installed in the same stack`);
    else if (!kind.startsWith('/') && !earlier.has(kind)) problems.push(`kubernetes_manifest.${id}: no stack it depends on installs the CRD of ${kind}`);
  }
  return problems;
}

/**
 * Kubernetes and Helm providers authenticate with `aws eks get-token` (exec), never with a token read
 * once at plan time (`aws_eks_cluster_auth` expires after 15 minutes).
 */
export function providersWithoutExecAuth(stack: TfJson): string[] {
  const problems: string[] = [];
  const check = (what: string, p: any, exec: any) => {
    if (p.token !== undefined) problems.push(`${what}: static token`);
    if (!exec || exec.command !== 'aws' || !(exec.args as string[]).includes('get-token')) problems.push(`${what}: no aws eks get-token exec`);
  };
  for (const p of stack.provider?.kubernetes ?? []) check('provider kubernetes', p, Array.isArray(p.exec) ? p.exec[0] : p.exec);
  for (const p of stack.provider?.helm ?? []) check('provider helm', p.kubernetes ?? {}, p.kubernetes?.exec);
  for (const id of Object.keys(stack.data?.aws_eks_cluster_auth ?? {})) problems.push(`data.aws_eks_cluster_auth.${id}: a 15-minute token`);
  return problems;
}

/** Stack dependencies as cdktf recorded them (`manifest.json`): platform -> add-ons -> workloads per region. */
export function stackOrderViolations(dependencies: Readonly<Record<string, readonly string[]>>, env: string, regions: readonly string[]): string[] {
  const problems: string[] = [];
  const needs = (stack: string, on: string) => {
    if (!(dependencies[stack] ?? []).includes(on)) problems.push(`${stack} does not depend on ${on}`);
    if ((dependencies[on] ?? []).includes(stack)) problems.push(`${on} depends on ${stack}`);
  };
  for (const r of regions) {
    const platform = `${env}-${r}`;
    if (dependencies[`${platform}-addons`] === undefined) problems.push(`${platform}-addons is missing`);
    needs(`${platform}-addons`, platform);
    needs(`${platform}-workloads`, `${platform}-addons`);
  }
  return problems;
}

const DIGEST = /@sha256:[0-9a-f]{64}$/;

/**
 * Images of the add-on releases that would run by a mutable tag: for every release, each image its
 * chart renders (`CHART_IMAGES`) must be set by the values to a `<tag>@sha256:` tag (no exemption),
 * and every other `image` string in the values (sidecars) must carry a digest. Also reports a chart
 * without an image table.
 */
export function unpinnedAddonImages(addons: TfJson): string[] {
  const problems: string[] = [];
  for (const release of releases(addons)) {
    const where = `helm_release ${release.name} (${release.chart} ${release.version})`;
    const paths = CHART_IMAGES[release.chart];
    if (!paths) {
      problems.push(`${where}: its chart's images are not listed in CHART_IMAGES`);
      continue;
    }
    const values = valuesOf(release);
    for (const path of paths) {
      const image = path.split('.').reduce((node: any, key) => node?.[key], values);
      if (typeof image?.tag === 'string' && DIGEST.test(image.tag)) continue;
      problems.push(`${where}: ${path} ${image === undefined ? 'is the chart default (a tag)' : `tag "${image.tag}" has no digest`}`);
    }
    const walk = (node: unknown, at: string): void => {
      if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${at}[${i}]`));
      else if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          const path = at ? `${at}.${k}` : k;
          if (k === 'image' && typeof v === 'string' && !DIGEST.test(v)) problems.push(`${where}: ${path} "${v}" has no digest`);
          walk(v, path);
        }
      }
    };
    walk(values, '');
  }
  return problems;
}

/**
 * EKS add-ons whose images are not fixed: an `aws_eks_addon` runs the images of its add-on version, so
 * an add-on without an exact `addon_version` runs whatever version EKS picks when it is created.
 * `exempt` names add-ons knowingly left at EKS's default (reported by the caller, not here).
 */
export function unpinnedEksAddons(stack: TfJson, exempt: readonly string[] = []): string[] {
  return Object.values(stack.resource?.aws_eks_addon ?? {})
    .filter((a: any) => !exempt.includes(a.addon_name))
    .filter((a: any) => typeof a.addon_version !== 'string' || !/^v\d+\.\d+\.\d+-eksbuild\.\d+$/.test(a.addon_version))
    .map((a: any) => `aws_eks_addon ${a.addon_name}: ${a.addon_version === undefined ? 'no addon_version (EKS picks one at create time)' : `addon_version "${a.addon_version}" is not exact`}`);
}

/** The sections of a classic-mode Fluent Bit configuration: `[NAME]` and its `Key value` lines (keys lower-cased). */
export function fluentBitSections(config: string): { name: string; entries: Record<string, string> }[] {
  const sections: { name: string; entries: Record<string, string> }[] = [];
  for (const raw of config.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const head = /^\[([A-Z_]+)\]$/.exec(line);
    if (head) sections.push({ name: head[1], entries: {} });
    else if (sections.length > 0) {
      const [key, ...rest] = line.split(/\s+/);
      sections[sections.length - 1].entries[key.toLowerCase()] = rest.join(' ');
    }
  }
  return sections;
}

/** A Fluent Bit path glob (`*` within a file name) as a regular expression. */
const globRegex = (glob: string) => new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
/** A Fluent Bit `Match` pattern (`*` matches anything) as a regular expression. */
const matchRegex = (pattern: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

/**
 * Container logs reach CloudWatch Logs, and only groups Terraform made: the add-ons stack runs a
 * Fluent Bit release whose tail inputs take the log file of every container of every namespace (the
 * workloads stack's and kube-system), each routed to a `cloudwatch_logs` output that never creates a
 * group (`auto_create_group false`); each output's group exists in the platform stack with a retention
 * and a rotated customer-managed key whose policy lets CloudWatch Logs use it for that group; and the
 * shipper's IRSA role may only create streams in and put events to those groups (no wildcard resource,
 * no other action).
 */
export function containerLogViolations(region: RegionStacks): string[] {
  const problems: string[] = [];
  const release = releaseOf(region.addons, 'fluent-bit');
  if (!release) return ['no fluent-bit release in the add-ons stack: container logs are not shipped'];
  const values = valuesOf(release);
  const inputs = fluentBitSections(values.config?.inputs ?? '').filter((s) => s.name === 'INPUT' && s.entries.name === 'tail');
  const outputs = fluentBitSections(values.config?.outputs ?? '').filter((s) => s.name === 'OUTPUT');
  const groups = Object.entries(region.platform.resource?.aws_cloudwatch_log_group ?? {}) as [string, any][];
  const keys = (region.platform.resource?.aws_kms_key ?? {}) as Record<string, any>;
  const docs = (region.platform.data?.aws_iam_policy_document ?? {}) as Record<string, any>;
  const docOf = (ref: string) => docs[/^\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}$/.exec(ref)?.[1] ?? ''];

  // Every namespace's containers are read by some input.
  const namespaces = [
    'kube-system',
    ...Object.values(region.workloads.resource?.kubernetes_namespace_v1 ?? {}).map((n: any) => n.metadata.name as string),
    ...Object.values(region.workloads.resource?.kubernetes_namespace ?? {}).map((n: any) => n.metadata.name as string),
  ];
  for (const ns of namespaces) {
    const file = `/var/log/containers/pod-0_${ns}_main-${'0'.repeat(64)}.log`;
    const readers = inputs.filter(
      (i) => (i.entries.path ?? '').split(',').some((g) => globRegex(g).test(file)) && !(i.entries.exclude_path ?? '').split(',').filter(Boolean).some((g) => globRegex(g).test(file)),
    );
    if (readers.length === 0) problems.push(`namespace ${ns}: no tail input reads its containers' logs`);
    if (readers.length > 1) problems.push(`namespace ${ns}: read by ${readers.length} inputs (shipped twice)`);
  }
  // Every input's records reach a CloudWatch Logs output.
  for (const i of inputs) {
    const tag = (i.entries.tag ?? '').replace(/\*$/, 'var.log.containers.x.log');
    if (!outputs.some((o) => o.entries.name === 'cloudwatch_logs' && matchRegex(o.entries.match ?? '').test(tag))) problems.push(`input ${i.entries.alias ?? i.entries.tag}: no cloudwatch_logs output matches tag ${i.entries.tag}`);
  }
  // Every output writes an existing, encrypted group with a retention, and never creates one.
  const shipped: string[] = [];
  for (const o of outputs) {
    const where = `output ${o.entries.alias ?? o.entries.match}`;
    if (o.entries.name !== 'cloudwatch_logs') {
      problems.push(`${where}: ${o.entries.name} is not CloudWatch Logs`);
      continue;
    }
    if (o.entries.auto_create_group !== 'false') problems.push(`${where}: auto_create_group is ${o.entries.auto_create_group ?? 'unset'} (the agent could create an unencrypted group kept forever)`);
    if (o.entries.log_retention_days !== undefined) problems.push(`${where}: sets log_retention_days (retention is Terraform's)`);
    const found = groups.find(([, g]) => g.name === o.entries.log_group_name);
    if (!found) {
      problems.push(`${where}: log group ${o.entries.log_group_name} is not created by the platform stack`);
      continue;
    }
    const [gid, group] = found;
    shipped.push(gid);
    if (!(group.retention_in_days > 0)) problems.push(`${where}: log group ${group.name} has no retention`);
    const keyId = /^\$\{aws_kms_key\.([^.]+)\.arn\}$/.exec(group.kms_key_id ?? '')?.[1];
    const key = keyId ? keys[keyId] : undefined;
    if (!key) problems.push(`${where}: log group ${group.name} is not encrypted with a customer-managed key of the stack (kms_key_id ${group.kms_key_id ?? 'unset'})`);
    else {
      if (key.enable_key_rotation !== true) problems.push(`${where}: the key of ${group.name} is not rotated`);
      const statements = (docOf(key.policy)?.statement ?? []) as any[];
      const lets = statements.some(
        (s) =>
          (s.principals ?? []).some((p: any) => (p.identifiers ?? []).some((i: string) => /^logs\.[a-z0-9-]+\.amazonaws\.com$/.test(i))) &&
          (s.condition ?? []).some((c: any) => c.variable === 'kms:EncryptionContext:aws:logs:arn' && (c.values ?? []).some((v: string) => v.endsWith(`:log-group:${group.name}`))),
      );
      if (!lets) problems.push(`${where}: the key policy of ${group.name} does not let CloudWatch Logs use it for that group`);
    }
  }
  // The shipper's role: create streams in and put events to exactly those groups.
  const roleRef = resolveRemote(values.serviceAccount?.annotations?.['eks.amazonaws.com/role-arn'] ?? '', region.platform);
  const roleId = /^\$\{aws_iam_role\.([^.]+)\.arn\}$/.exec(roleRef ?? '')?.[1];
  if (!roleId) problems.push(`the fluent-bit service account's role (${values.serviceAccount?.annotations?.['eks.amazonaws.com/role-arn']}) is not a role of the platform stack`);
  else {
    const policies = Object.values(region.platform.resource?.aws_iam_role_policy ?? {}).filter((p: any) => p.role === `\${aws_iam_role.${roleId}.id}` || p.role === `\${aws_iam_role.${roleId}.name}`) as any[];
    const attached = Object.values(region.platform.resource?.aws_iam_role_policy_attachment ?? {}).filter((p: any) => (p.role ?? '').includes(`aws_iam_role.${roleId}.`));
    if (attached.length > 0) problems.push(`the shipper's role has ${attached.length} attached managed policies`);
    const statements = policies.flatMap((p) => (docOf(p.policy)?.statement ?? []) as any[]);
    const allowed = ['logs:CreateLogStream', 'logs:PutLogEvents'];
    const granted = new Set<string>();
    for (const s of statements) {
      if (s.effect === 'Deny') continue;
      for (const a of s.actions ?? []) if (!allowed.includes(a)) problems.push(`the shipper's role may ${a}`);
      for (const r of s.resources ?? []) {
        const gid = /^\$\{aws_cloudwatch_log_group\.([^.]+)\.arn\}:\*$/.exec(r)?.[1];
        if (!gid || !shipped.includes(gid)) problems.push(`the shipper's role is granted resource ${r}, not one of the shipped groups`);
        else for (const a of s.actions ?? []) granted.add(`${gid} ${a}`);
      }
    }
    for (const gid of shipped) for (const a of allowed) if (!granted.has(`${gid} ${a}`)) problems.push(`the shipper's role may not ${a} to ${groups.find(([id]) => id === gid)![1].name}`);
  }
  return problems;
}

/**
 * The deploy page lists the stacks in an order the synth's dependencies allow (every stack after the
 * stacks it depends on) and names the prerequisites a fresh account needs: the P-instance quotas, a
 * delegated domain and, for a private API endpoint, the in-VPC runner.
 */
export function deployDocViolations(markdown: string, dependencies: Readonly<Record<string, readonly string[]>>, env: string, region: string): string[] {
  const problems: string[] = [];
  const section = (title: string) => {
    const start = markdown.indexOf(`### ${title}\n`);
    if (start < 0) return undefined;
    const rest = markdown.slice(start + title.length + 5);
    const end = rest.search(/^#{2,3} /m);
    return end < 0 ? rest : rest.slice(0, end);
  };
  const order = section('Order');
  if (order === undefined) return ['no "### Order" section'];
  const firstParagraph = order.trim().split(/\n\s*\n/)[0];
  const listed = [...firstParagraph.matchAll(/`(<env>[^`]*)`/g)].map((m) => m[1].replace('<env>', env).replace('<region>', region));
  if (listed.length === 0) problems.push('the Order section lists no stacks');
  const expected = Object.keys(dependencies).filter((s) => s === `${env}-dns` || s === `${env}-global` || s.startsWith(`${env}-${region}`));
  for (const s of expected) if (!listed.includes(s)) problems.push(`the Order section does not list ${s}`);
  listed.forEach((s, i) => {
    // Other regions' stacks stand for themselves (`<region>` is one region of several).
    for (const dep of (dependencies[s] ?? []).filter((d) => expected.includes(d))) {
      const at = listed.indexOf(dep);
      if (at < 0 || at > i) problems.push(`the Order section lists ${s} before ${dep}, which it depends on`);
    }
  });
  const prerequisites = section('Prerequisites') ?? '';
  if (!/L-417A185B/.test(prerequisites) || !/L-7212CCBC/.test(prerequisites)) problems.push('the prerequisites do not name the P-instance quotas (L-417A185B, L-7212CCBC)');
  if (!/delegate/i.test(prerequisites)) problems.push('the prerequisites do not say to delegate the domain');
  if (!/deploy runner/i.test(markdown)) problems.push('the page does not describe the deploy runner');
  return problems;
}
