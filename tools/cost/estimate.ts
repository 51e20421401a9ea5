import { referencesIn, stackEnvironment, stackRegion, SynthOutput, SynthResource, SynthStack } from '../common/synth-output';
import { ec2Hourly, PRICE_TABLE, regionMultiplier } from './price-table';

/** One priced line: what, how many, monthly cost at minimum and at maximum scale. */
export interface CostLine {
  readonly region: string;
  /** `compute`, `gpu`, `data`, `network`, `entry`, `global`, `other`. */
  readonly group: string;
  readonly item: string;
  readonly quantity: string;
  readonly monthlyMin: number;
  readonly monthlyMax: number;
  /** `on-demand` or `spot` for instances, else undefined. */
  readonly capacity?: 'on-demand' | 'spot';
  /** Set when the item is billed by usage and the figure rests on the stated assumptions. */
  readonly assumed?: string;
}

/** The monthly estimate of one environment. */
export interface CostEstimate {
  readonly environment: string;
  readonly asOf: string;
  readonly currency: string;
  readonly lines: readonly CostLine[];
  /** Per region (and `global`): monthly at minimum and at maximum scale. */
  readonly byRegion: Readonly<Record<string, { min: number; max: number }>>;
  readonly total: { readonly min: number; readonly max: number };
  /** The GPU node groups alone. */
  readonly gpu: { readonly min: number; readonly max: number };
  /** Instance cost by capacity type, at minimum and maximum scale. */
  readonly capacitySplit: { readonly onDemand: { min: number; max: number }; readonly spot: { min: number; max: number } };
  /** What could not be priced (type missing from the price table): the estimate is low by these. */
  readonly unpriced: readonly string[];
}

const H = PRICE_TABLE.hoursPerMonth;
const A = PRICE_TABLE.assumptions;
const GPU_FAMILY = /^(p\d|g\d|inf\d|trn\d)/;

/**
 * Estimates the monthly cost of one environment's stacks from the synthesized resources and the
 * price table. Node groups are priced at their minimum and maximum size; traffic-billed items
 * (egress, NAT processing, accelerator premium, cross-zone, LCUs) from the stated assumptions.
 */
export function estimateCost(synth: SynthOutput, environment: string): CostEstimate {
  const stacks = [...synth.stacks.values()].filter((s) => stackEnvironment(s.name) === environment);
  if (stacks.length === 0) throw new Error(`cost: no stack of environment "${environment}" in ${synth.dir}`);
  const lines: CostLine[] = [];
  const unpriced: string[] = [];
  const regionsWithEgress = new Set<string>();
  let accelerators = 0;

  for (const stack of stacks) {
    const region = stackRegion(stack) ?? 'global';
    const m = regionMultiplier(region);
    const isGlobal = stack.name.endsWith('-global') || stack.name.endsWith('-dns');
    const where = isGlobal ? 'global' : region;
    const byType = (type: string): SynthResource[] => [...stack.resources.values()].filter((r) => r.mode === 'resource' && r.type === type);
    const fixed = (group: string, item: string, count: number, monthlyEach: number): void => {
      if (count > 0) lines.push({ region: where, group, item, quantity: String(count), monthlyMin: count * monthlyEach, monthlyMax: count * monthlyEach });
    };

    for (const ng of byType('aws_eks_node_group')) lines.push(...nodeGroupLines(stack, ng, region, unpriced));
    fixed('compute', 'EKS cluster', byType('aws_eks_cluster').length, PRICE_TABLE.eksClusterHourly * H);

    for (const rg of byType('aws_elasticache_replication_group')) {
      const a = rg.attributes;
      const nodes = typeof a.num_cache_clusters === 'number'
        ? a.num_cache_clusters
        : num(a.num_node_groups, 1) * (1 + num(a.replicas_per_node_group, 0));
      const price = PRICE_TABLE.elasticacheHourly[String(a.node_type)];
      if (price === undefined) unpriced.push(`ElastiCache ${String(a.node_type)} (${rg.path})`);
      else fixed('data', `ElastiCache ${String(a.node_type)}`, nodes, price * m * H);
    }
    for (const broker of byType('aws_mq_broker')) {
      const a = broker.attributes;
      const mode = String(a.deployment_mode ?? 'SINGLE_INSTANCE');
      const instances = mode === 'CLUSTER_MULTI_AZ' ? 3 : mode === 'ACTIVE_STANDBY_MULTI_AZ' ? 2 : 1;
      const price = PRICE_TABLE.mqHourly[String(a.host_instance_type)];
      if (price === undefined) unpriced.push(`Amazon MQ ${String(a.host_instance_type)} (${broker.path})`);
      else {
        fixed('data', `Amazon MQ ${String(a.host_instance_type)} (${mode})`, instances, price * m * H);
        lines.push({
          region: where, group: 'data', item: 'Amazon MQ storage', quantity: `${instances} x ${PRICE_TABLE.mqStorageGbPerInstance} GB`,
          monthlyMin: instances * PRICE_TABLE.mqStorageGbPerInstance * PRICE_TABLE.mqStorageGbMonth,
          monthlyMax: instances * PRICE_TABLE.mqStorageGbPerInstance * PRICE_TABLE.mqStorageGbMonth,
          assumed: `${PRICE_TABLE.mqStorageGbPerInstance} GB per broker instance`,
        });
      }
    }

    const nats = byType('aws_nat_gateway').length;
    fixed('network', 'NAT gateway', nats, PRICE_TABLE.natGatewayHourly * m * H);
    if (nats > 0) {
      const cost = A.natProcessedGbPerRegion * PRICE_TABLE.natGatewayPerGb * m;
      lines.push({ region: where, group: 'network', item: 'NAT data processing', quantity: `${A.natProcessedGbPerRegion} GB`, monthlyMin: cost, monthlyMax: cost, assumed: 'NAT traffic per region' });
    }
    fixed('network', 'public IPv4 address', byType('aws_eip').length, PRICE_TABLE.publicIpv4Hourly * H);
    const endpointAzs = byType('aws_vpc_endpoint')
      .filter((e) => e.attributes.vpc_endpoint_type === 'Interface')
      .reduce((n, e) => n + (Array.isArray(e.attributes.subnet_ids) ? e.attributes.subnet_ids.length : 1), 0);
    fixed('network', 'interface endpoint x zone', endpointAzs, PRICE_TABLE.interfaceEndpointHourlyPerAz * m * H);

    for (const lb of byType('aws_lb')) {
      const nlb = lb.attributes.load_balancer_type === 'network';
      const hourly = (nlb ? PRICE_TABLE.nlbHourly + A.lcuPerLoadBalancer * PRICE_TABLE.nlbLcuHourly : PRICE_TABLE.albHourly + A.lcuPerLoadBalancer * PRICE_TABLE.albLcuHourly) * m;
      lines.push({ region: where, group: 'entry', item: nlb ? 'Network Load Balancer' : 'Application Load Balancer', quantity: '1', monthlyMin: hourly * H, monthlyMax: hourly * H, assumed: `${A.lcuPerLoadBalancer} LCU average` });
      if (nlb && lb.attributes.internal !== true) regionsWithEgress.add(region);
    }

    accelerators += byType('aws_globalaccelerator_accelerator').length;
    fixed('global', 'Global Accelerator', byType('aws_globalaccelerator_accelerator').length, PRICE_TABLE.acceleratorHourly * H);
    fixed('global', 'Route 53 hosted zone', byType('aws_route53_zone').length, PRICE_TABLE.route53ZoneMonth);
    for (const hc of byType('aws_route53_health_check')) {
      const a = hc.attributes;
      const features = [String(a.type ?? '').startsWith('HTTPS'), a.measure_latency === true, a.request_interval === 10, a.search_string !== undefined].filter(Boolean).length;
      fixed('global', 'Route 53 health check', 1, PRICE_TABLE.route53HealthCheckMonth + features * PRICE_TABLE.route53HealthCheckFeatureMonth);
    }
    fixed('other', 'KMS key', byType('aws_kms_key').length, PRICE_TABLE.kmsKeyMonth);
    fixed('other', 'Secrets Manager secret', byType('aws_secretsmanager_secret').length, PRICE_TABLE.secretMonth);
    fixed('other', 'CloudWatch alarm', byType('aws_cloudwatch_metric_alarm').length, PRICE_TABLE.cloudwatchAlarmMonth);
  }

  // Traffic, from the assumptions: internet egress and cross-zone per region that has a public entry.
  for (const region of [...regionsWithEgress].sort()) {
    const m = regionMultiplier(region);
    const egress = A.internetEgressGbPerRegion * PRICE_TABLE.internetEgressPerGb * m;
    const crossAz = A.crossAzGbPerRegion * PRICE_TABLE.crossAzPerGb * m;
    lines.push({ region, group: 'transfer', item: 'internet egress', quantity: `${A.internetEgressGbPerRegion} GB`, monthlyMin: egress, monthlyMax: egress, assumed: 'egress per region' });
    lines.push({ region, group: 'transfer', item: 'cross-zone traffic', quantity: `${A.crossAzGbPerRegion} GB`, monthlyMin: crossAz, monthlyMax: crossAz, assumed: 'cross-zone per region' });
    if (accelerators > 0) {
      const gb = A.internetEgressGbPerRegion * A.acceleratorTrafficShare;
      const premium = gb * PRICE_TABLE.acceleratorPremiumPerGb;
      lines.push({ region, group: 'transfer', item: 'Global Accelerator premium', quantity: `${gb} GB`, monthlyMin: premium, monthlyMax: premium, assumed: 'share of egress through the accelerator' });
    }
  }

  const merged = mergeLines(lines);
  const sum = (ls: readonly CostLine[]) => ({ min: round(ls.reduce((n, l) => n + l.monthlyMin, 0)), max: round(ls.reduce((n, l) => n + l.monthlyMax, 0)) });
  const byRegion: Record<string, { min: number; max: number }> = {};
  for (const region of [...new Set(merged.map((l) => l.region))].sort()) byRegion[region] = sum(merged.filter((l) => l.region === region));
  return {
    environment,
    asOf: PRICE_TABLE.asOf,
    currency: PRICE_TABLE.currency,
    lines: merged.map((l) => ({ ...l, monthlyMin: round(l.monthlyMin), monthlyMax: round(l.monthlyMax) })),
    byRegion,
    total: sum(merged),
    gpu: sum(merged.filter((l) => l.group === 'gpu')),
    capacitySplit: {
      onDemand: sum(merged.filter((l) => l.capacity === 'on-demand')),
      spot: sum(merged.filter((l) => l.capacity === 'spot')),
    },
    unpriced,
  };
}

const GROUP_ORDER = ['gpu', 'compute', 'data', 'entry', 'network', 'transfer', 'global', 'other'];

/** Sums lines of the same item in the same region (counted quantities add up), sorted by region and group. */
function mergeLines(lines: readonly CostLine[]): CostLine[] {
  const merged = new Map<string, CostLine>();
  for (const l of lines) {
    const key = `${l.region}|${l.group}|${l.item}|${l.capacity ?? ''}`;
    const seen = merged.get(key);
    if (seen && /^\d+$/.test(seen.quantity) && /^\d+$/.test(l.quantity)) {
      merged.set(key, { ...seen, quantity: String(Number(seen.quantity) + Number(l.quantity)), monthlyMin: seen.monthlyMin + l.monthlyMin, monthlyMax: seen.monthlyMax + l.monthlyMax });
    } else merged.set(seen ? `${key}|${merged.size}` : key, l);
  }
  return [...merged.values()].sort((a, b) => a.region.localeCompare(b.region) || GROUP_ORDER.indexOf(a.group) - GROUP_ORDER.indexOf(b.group));
}

function nodeGroupLines(stack: SynthStack, ng: SynthResource, region: string, unpriced: string[]): CostLine[] {
  const a = ng.attributes;
  const scaling = (Array.isArray(a.scaling_config) ? a.scaling_config[0] : a.scaling_config) as Record<string, unknown> | undefined;
  const min = num(scaling?.min_size, 0);
  const max = num(scaling?.max_size, min);
  const template = launchTemplateOf(stack, ng);
  const types = Array.isArray(a.instance_types) && a.instance_types.length > 0
    ? a.instance_types.map(String)
    : template?.attributes.instance_type !== undefined ? [String(template.attributes.instance_type)] : ['t3.medium'];
  const spot = a.capacity_type === 'SPOT';
  const prices = types.map((t) => ec2Hourly(t, region));
  const missing = types.filter((_, i) => prices[i] === undefined);
  if (missing.length > 0) unpriced.push(`EC2 ${missing.join(', ')} (${ng.path})`);
  const known = prices.filter((p): p is number => p !== undefined);
  if (known.length === 0) return [];
  // A diversified spot group launches whichever pool has capacity: price it at the mean of its types.
  const onDemandHourly = known.reduce((n, p) => n + p, 0) / known.length;
  const hourly = spot ? onDemandHourly * PRICE_TABLE.spotPriceRatio : onDemandHourly;
  const volumeGb = rootVolumeGb(template, a);
  const perNodeMonth = hourly * H + volumeGb * PRICE_TABLE.ebsGp3GbMonth;
  const gpu = types.some((t) => GPU_FAMILY.test(t));
  const name = String(a.node_group_name ?? ng.path);
  return [{
    region,
    group: gpu ? 'gpu' : 'compute',
    item: `${name} (${types.join(', ')}${spot ? `, spot at ${Math.round(PRICE_TABLE.spotPriceRatio * 100)} % of on-demand` : ''}, ${volumeGb} GB gp3)`,
    quantity: `${min}-${max} nodes`,
    monthlyMin: min * perNodeMonth,
    monthlyMax: max * perNodeMonth,
    capacity: spot ? 'spot' : 'on-demand',
  }];
}

function launchTemplateOf(stack: SynthStack, ng: SynthResource): SynthResource | undefined {
  const lt = (Array.isArray(ng.attributes.launch_template) ? ng.attributes.launch_template[0] : ng.attributes.launch_template) as Record<string, unknown> | undefined;
  for (const ref of referencesIn(lt?.id ?? lt?.name)) {
    const m = /^(aws_launch_template\.[^.]+)\./.exec(ref);
    if (m) return stack.resources.get(m[1]);
  }
  return undefined;
}

function rootVolumeGb(template: SynthResource | undefined, a: Readonly<Record<string, unknown>>): number {
  const mappings = template?.attributes.block_device_mappings;
  if (Array.isArray(mappings)) {
    const total = mappings.reduce((n: number, m: { ebs?: { volume_size?: unknown } }) => n + num(m.ebs?.volume_size, 0), 0);
    if (total > 0) return total;
  }
  return num(a.disk_size, A.defaultNodeVolumeGb);
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
