import { referencesIn, stackEnvironment, stackRegion, SynthOutput, SynthResource, SynthStack } from '../common/synth-output';

/** A box in the diagram. */
export interface TopologyNode {
  readonly id: string;
  readonly label: string;
  readonly kind: 'clients' | 'dns' | 'health-check' | 'accelerator' | 'load-balancer' | 'cluster' | 'node-pool' | 'workload' | 'data-store' | 'network';
  /** The group (subgraph) it is drawn in. */
  readonly group: string;
}

/** A group of nodes: `global`, a region, a cluster inside a region. */
export interface TopologyGroup {
  readonly id: string;
  readonly label: string;
  readonly parent?: string;
}

/** An arrow: traffic, a DNS answer (`dns`), or a health probe (`probe`). */
export interface TopologyEdge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
  readonly style: 'traffic' | 'dns' | 'probe';
}

/** The topology of one environment as read from its synthesized stacks. */
export interface Topology {
  readonly environment: string;
  readonly groups: readonly TopologyGroup[];
  readonly nodes: readonly TopologyNode[];
  readonly edges: readonly TopologyEdge[];
}

const CLIENTS = 'clients';
const SG_ATTRIBUTES = ['security_group_ids', 'security_groups', 'vpc_security_group_ids'];

/** `prod-us-east-1:aws_lb.entry_nlb` -> a Mermaid/DOT-safe id. */
function nodeId(key: string): string {
  return key.replace(/[^A-Za-z0-9]+/g, '_');
}

function first<T>(v: unknown): T | undefined {
  return (Array.isArray(v) ? v[0] : v) as T | undefined;
}

/** `${stack}:type.name` keys of the resources a value refers to (cross-stack references included). */
function refKeys(value: unknown, stack: string): string[] {
  const keys: string[] = [];
  for (const expression of referencesIn(value)) {
    for (const m of expression.matchAll(/(?:([A-Za-z0-9][A-Za-z0-9-]*):)?(?<!data\.)\b([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z0-9_-]+)/g)) {
      keys.push(`${m[1] ?? stack}:${m[2]}.${m[3]}`);
    }
  }
  return keys;
}

/**
 * Reads the topology of `environment` from a synth output: per region the load balancers, the EKS
 * cluster with its node pools and workloads, the data stores and the network's NAT gateways and
 * endpoints; globally the hosted zone's records, health checks and the accelerator. Connections
 * come from the configuration itself: DNS aliases, accelerator endpoints, health-check targets, and
 * security-group rules (a rule admitting group B into group A is traffic from B's owner to A's).
 */
export function readTopology(synth: SynthOutput, environment: string): Topology {
  const stacks = [...synth.stacks.values()].filter((s) => stackEnvironment(s.name) === environment);
  if (stacks.length === 0) throw new Error(`diagram: no stack of environment "${environment}" in ${synth.dir}`);
  const groups = new Map<string, TopologyGroup>();
  const nodes = new Map<string, TopologyNode>();
  const edges = new Map<string, TopologyEdge>();
  /** Resource key -> the node drawn for it. */
  const drawn = new Map<string, string>();
  const addGroup = (g: TopologyGroup) => groups.set(g.id, g);
  const addNode = (key: string, node: Omit<TopologyNode, 'id'>, id = nodeId(key)): string => {
    if (!nodes.has(id)) nodes.set(id, { id, ...node });
    drawn.set(key, id);
    return id;
  };
  const addEdge = (from: string | undefined, to: string | undefined, label: string, style: TopologyEdge['style']) => {
    if (!from || !to || from === to) return;
    const key = `${from}>${to}>${style}`;
    const seen = edges.get(key);
    const labels = new Set([...(seen ? seen.label.split(', ') : []), label].filter(Boolean));
    edges.set(key, { from, to, label: [...labels].sort(compareLabels).join(', '), style });
  };
  const resources = (stack: SynthStack, type: string): [string, SynthResource][] =>
    [...stack.resources.values()].filter((r) => r.mode === 'resource' && r.type === type).map((r) => [`${stack.name}:${r.address}`, r]);

  addGroup({ id: 'global', label: 'global' });
  nodes.set(CLIENTS, { id: CLIENTS, label: 'clients', kind: 'clients', group: '' });

  // Regions: platform stacks and their workloads stacks share a provider region.
  const regionOf = (stack: SynthStack): string => (/-(global|dns)$/.test(stack.name) ? 'global' : stackRegion(stack) ?? 'global');
  for (const stack of stacks) {
    const region = regionOf(stack);
    if (region === 'global') continue;
    const vpc = resources(stack, 'aws_vpc')[0]?.[1];
    const regionGroup = `region_${nodeId(region)}`;
    if (!groups.has(regionGroup) || vpc) {
      addGroup({ id: regionGroup, label: vpc ? `${region} · VPC ${String(vpc.attributes.cidr_block)}` : region });
    }
  }

  for (const stack of stacks) {
    const region = regionOf(stack);
    const regionGroup = region === 'global' ? 'global' : `region_${nodeId(region)}`;
    for (const [key, lb] of resources(stack, 'aws_lb')) {
      const type = lb.attributes.load_balancer_type === 'network' ? 'NLB' : 'ALB';
      addNode(key, { label: `${type} ${String(lb.attributes.name)} (${lb.attributes.internal === true ? 'internal' : 'public'})`, kind: 'load-balancer', group: regionGroup });
    }
    for (const [key, cluster] of resources(stack, 'aws_eks_cluster')) {
      const clusterGroup = `${regionGroup}_eks`;
      const vpcConfig = first<Record<string, unknown>>(cluster.attributes.vpc_config) ?? {};
      addGroup({ id: clusterGroup, label: `EKS ${String(cluster.attributes.name)} ${String(cluster.attributes.version ?? '')}`.trim(), parent: regionGroup });
      addNode(key, { label: `EKS nodes + API (${vpcConfig.endpoint_public_access === true ? 'public and private endpoint' : 'private endpoint'})`, kind: 'cluster', group: clusterGroup });
    }
    for (const [key, ng] of resources(stack, 'aws_eks_node_group')) {
      const scaling = first<Record<string, unknown>>(ng.attributes.scaling_config) ?? {};
      const clusterKey = refKeys(ng.attributes.cluster_name, stack.name)[0];
      const group = clusterKey ? `${regionGroup}_eks` : regionGroup;
      const types = Array.isArray(ng.attributes.instance_types) ? ng.attributes.instance_types.join(' / ') : 'launch template';
      const capacity = ng.attributes.capacity_type === 'SPOT' ? 'spot' : 'on-demand';
      addNode(key, { label: `pool ${shortName(String(ng.attributes.node_group_name ?? ng.name))}: ${capacity} ${types}, ${String(scaling.min_size)}–${String(scaling.max_size)} nodes`, kind: 'node-pool', group });
    }
    for (const [key, rg] of resources(stack, 'aws_elasticache_replication_group')) {
      const a = rg.attributes;
      const shape = a.num_node_groups !== undefined ? `${String(a.num_node_groups)} shards × ${1 + Number(a.replicas_per_node_group ?? 0)} nodes` : `${String(a.num_cache_clusters ?? 1)} nodes`;
      addNode(key, { label: `Redis ${String(a.node_type)} (${shape})`, kind: 'data-store', group: regionGroup });
    }
    for (const [key, broker] of resources(stack, 'aws_mq_broker')) {
      addNode(key, { label: `${String(broker.attributes.engine_type)} ${String(broker.attributes.host_instance_type)} (${String(broker.attributes.deployment_mode ?? 'SINGLE_INSTANCE')})`, kind: 'data-store', group: regionGroup });
    }
    for (const [key, bucket] of resources(stack, 'aws_s3_bucket')) {
      addNode(key, { label: `S3 ${String(bucket.attributes.bucket ?? bucket.attributes.bucket_prefix ?? bucket.name)}`, kind: 'data-store', group: regionGroup });
    }
    for (const [key] of resources(stack, 'aws_prometheus_workspace')) {
      addNode(key, { label: 'Managed Prometheus workspace', kind: 'data-store', group: regionGroup });
    }
    const nats = resources(stack, 'aws_nat_gateway');
    if (nats.length > 0) {
      const id = addNode(`${stack.name}:nat`, { label: `NAT gateways × ${nats.length}`, kind: 'network', group: regionGroup });
      for (const [key] of nats) drawn.set(key, id);
    }
    const endpoints = resources(stack, 'aws_vpc_endpoint');
    if (endpoints.length > 0) {
      const services = endpoints.map(([, e]) => String(e.attributes.service_name ?? '').split('.').slice(3).join('.') || e.name).sort();
      const id = addNode(`${stack.name}:endpoints`, { label: `VPC endpoints: ${services.join(', ')}`, kind: 'network', group: regionGroup });
      for (const [key] of endpoints) drawn.set(key, id);
    }
  }

  // Workloads: Deployments of a region's workloads stack, drawn inside that region's cluster.
  for (const stack of stacks) {
    const region = regionOf(stack);
    if (region === 'global') continue;
    const clusterGroup = `region_${nodeId(region)}_eks`;
    const hpas = resources(stack, 'kubernetes_horizontal_pod_autoscaler_v2').map(([, h]) => first<Record<string, unknown>>(h.attributes.spec) ?? {});
    const targets = (h: Record<string, unknown>, key: string, name: string): boolean => {
      const ref = first<Record<string, unknown>>(h.scale_target_ref) ?? {};
      return ref.name === name || refKeys(ref.name, stack.name).includes(key);
    };
    for (const [key, dep] of resources(stack, 'kubernetes_deployment_v1')) {
      const meta = first<Record<string, unknown>>(dep.attributes.metadata) ?? {};
      const spec = first<Record<string, unknown>>(dep.attributes.spec) ?? {};
      const name = String(meta.name);
      const hpa = hpas.find((h) => targets(h, key, name));
      const scale = hpa ? `${String(hpa.min_replicas ?? 1)}–${String(hpa.max_replicas)} replicas (HPA)` : `${String(spec.replicas ?? 1)} replica(s)`;
      addNode(key, { label: `${name}: ${scale}`, kind: 'workload', group: groups.has(clusterGroup) ? clusterGroup : `region_${nodeId(region)}` });
    }
  }

  // Global: DNS names (one node per name), health checks, the accelerator.
  for (const stack of stacks) {
    for (const [key, acc] of resources(stack, 'aws_globalaccelerator_accelerator')) {
      addNode(key, { label: `Global Accelerator ${String(acc.attributes.name)} (2 anycast IPs)`, kind: 'accelerator', group: 'global' });
      addEdge(CLIENTS, drawn.get(key), 'TCP', 'traffic');
    }
    for (const [key, hc] of resources(stack, 'aws_route53_health_check')) {
      const a = hc.attributes;
      addNode(key, { label: `health check ${String(a.type)} ${String(a.resource_path ?? '')} every ${String(a.request_interval ?? 30)} s, ${String(a.failure_threshold ?? 3)} failures`, kind: 'health-check', group: 'global' });
    }
  }
  const records = stacks.flatMap((s) => resources(s, 'aws_route53_record').map(([key, r]) => ({ stack: s, key, r })))
    .filter(({ r }) => first(r.attributes.alias) !== undefined);
  const nameNode = (name: string) => `dns_${nodeId(name)}`;
  for (const { r } of records) {
    const name = String(r.attributes.name);
    if (!nodes.has(nameNode(name))) nodes.set(nameNode(name), { id: nameNode(name), label: name, kind: 'dns', group: 'global' });
  }
  for (const { stack, r } of records) {
    const a = r.attributes;
    const alias = first<Record<string, unknown>>(a.alias) ?? {};
    const from = nameNode(String(a.name));
    const policy = routingLabel(a);
    const targets = refKeys(alias.name, stack.name).map((k) => drawn.get(k)).filter((x): x is string => x !== undefined);
    if (targets.length === 0 && typeof alias.name === 'string' && nodes.has(nameNode(alias.name))) targets.push(nameNode(alias.name));
    for (const to of targets) addEdge(from, to, policy, 'dns');
    for (const hcKey of refKeys(a.health_check_id, stack.name)) addEdge(drawn.get(hcKey), from, 'gates', 'probe');
  }
  // Clients resolve the names nobody else aliases to (the entry names).
  const aliased = new Set([...edges.values()].filter((e) => e.style === 'dns').map((e) => e.to));
  for (const { r } of records) {
    const id = nameNode(String(r.attributes.name));
    if (!aliased.has(id)) addEdge(CLIENTS, id, 'resolve', 'dns');
  }

  for (const stack of stacks) {
    for (const [, hc] of resources(stack, 'aws_route53_health_check')) {
      const from = drawn.get(`${stack.name}:${hc.address}`);
      for (const k of refKeys(hc.attributes.fqdn, stack.name)) addEdge(from, drawn.get(k), `probe :${String(hc.attributes.port ?? 443)}`, 'probe');
    }
    for (const [, eg] of resources(stack, 'aws_globalaccelerator_endpoint_group')) {
      const accelerator = refKeys(eg.attributes.listener_arn, stack.name)
        .flatMap((l) => refKeys(stack.resources.get(l.split(':')[1])?.attributes.accelerator_arn, stack.name))
        .map((k) => drawn.get(k))[0];
      for (const ep of Array.isArray(eg.attributes.endpoint_configuration) ? eg.attributes.endpoint_configuration : [eg.attributes.endpoint_configuration]) {
        for (const k of refKeys((ep as Record<string, unknown>)?.endpoint_id, stack.name)) addEdge(accelerator, drawn.get(k), `endpoint ${String(eg.attributes.endpoint_group_region)}`, 'traffic');
      }
    }
  }

  // Security-group rules are the connections: owner of the source group -> owner of the target group.
  for (const stack of stacks) {
    const owners = new Map<string, string[]>();
    const own = (sgKey: string, nodeKey: string) => owners.set(sgKey, [...(owners.get(sgKey) ?? []), nodeKey]);
    for (const r of stack.resources.values()) {
      for (const attr of SG_ATTRIBUTES) for (const k of refKeys(r.attributes[attr], stack.name)) own(k, `${stack.name}:${r.address}`);
      if (r.type === 'aws_eks_cluster') own(`${stack.name}:${r.address}`, `${stack.name}:${r.address}`);
    }
    const ownerNodes = (sgKeys: string[]) => sgKeys.flatMap((k) => owners.get(k) ?? []).map((k) => drawn.get(k)).filter((x): x is string => x !== undefined);
    for (const type of ['aws_vpc_security_group_ingress_rule', 'aws_security_group_rule']) {
      for (const [, rule] of resources(stack, type)) {
        const a = rule.attributes;
        if (type === 'aws_security_group_rule' && a.type !== 'ingress') continue;
        const port = a.from_port === a.to_port ? `:${String(a.from_port)}` : `:${String(a.from_port)}-${String(a.to_port)}`;
        const targets = ownerNodes(refKeys(a.security_group_id, stack.name));
        const sourceRef = a.referenced_security_group_id ?? a.source_security_group_id;
        const cidrs = [a.cidr_ipv4, a.cidr_ipv6, ...(Array.isArray(a.cidr_blocks) ? a.cidr_blocks : [])].filter((c) => typeof c === 'string');
        const sources = sourceRef !== undefined ? ownerNodes(refKeys(sourceRef, stack.name)) : cidrs.some((c) => c === '0.0.0.0/0' || c === '::/0') ? [CLIENTS] : [];
        for (const from of sources) for (const to of targets) addEdge(from, to, port, 'traffic');
      }
    }
  }

  const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
  return {
    environment,
    groups: [...groups.values()].sort(byId),
    nodes: [...nodes.values()].sort(byId),
    edges: [...edges.values()].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to) || a.style.localeCompare(b.style)),
  };
}

function compareLabels(a: string, b: string): number {
  const na = /^:(\d+)/.exec(a);
  const nb = /^:(\d+)/.exec(b);
  return na && nb ? Number(na[1]) - Number(nb[1]) : a.localeCompare(b);
}

/** `surgeguard-prod-use1-gpu-spot` -> `gpu-spot`. */
function shortName(name: string): string {
  const m = /-(cpu|gpu.*|system.*)$/.exec(name);
  return m ? m[1] : name;
}

function routingLabel(a: Readonly<Record<string, unknown>>): string {
  const latency = first<Record<string, unknown>>(a.latency_routing_policy);
  if (latency) return `latency ${String(latency.region)}`;
  const geo = first<Record<string, unknown>>(a.geolocation_routing_policy);
  if (geo) return `geo ${String(geo.country ?? geo.continent ?? geo.subdivision)}`;
  const weighted = first<Record<string, unknown>>(a.weighted_routing_policy);
  if (weighted) return `weight ${String(weighted.weight)}`;
  const failover = first<Record<string, unknown>>(a.failover_routing_policy);
  if (failover) return `failover ${String(failover.type)}`;
  return 'alias';
}
