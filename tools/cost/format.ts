import { PRICE_TABLE } from './price-table';
import { CostEstimate } from './estimate';

/** `$12,345` */
export function usd(n: number): string {
  return `$${Math.round(n).toLocaleString('en-US')}`;
}

/** The estimate as Markdown: per region and total, GPU tier at min and max, spot/on-demand split, lines, assumptions. */
export function formatCostMarkdown(e: CostEstimate): string {
  const out: string[] = [];
  const range = (r: { min: number; max: number }) => (r.min === r.max ? usd(r.min) : `${usd(r.min)} – ${usd(r.max)}`);
  out.push(`# Monthly cost estimate: ${e.environment}`, '');
  out.push(`Prices of ${e.asOf} (${e.currency}, list prices, tools/cost/price-table.ts); node groups at minimum – maximum size.`, '');
  out.push('| region | at minimum scale | at maximum scale |', '|---|---:|---:|');
  for (const [region, r] of Object.entries(e.byRegion)) out.push(`| ${region} | ${usd(r.min)} | ${usd(r.max)} |`);
  out.push(`| **total** | **${usd(e.total.min)}** | **${usd(e.total.max)}** |`, '');
  out.push(`- GPU tier: ${usd(e.gpu.min)} at minimum, ${usd(e.gpu.max)} at maximum scale`);
  out.push(`- instances on-demand: ${range(e.capacitySplit.onDemand)}; spot: ${range(e.capacitySplit.spot)} (spot priced at ${Math.round(PRICE_TABLE.spotPriceRatio * 100)} % of on-demand)`);
  if (e.unpriced.length > 0) out.push(`- **not priced** (missing from the price table, the estimate is low by these): ${e.unpriced.join('; ')}`);
  out.push('', '| region | item | quantity | min / month | max / month |', '|---|---|---|---:|---:|');
  for (const l of e.lines) out.push(`| ${l.region} | ${l.item}${l.assumed ? ' *' : ''} | ${l.quantity} | ${usd(l.monthlyMin)} | ${usd(l.monthlyMax)} |`);
  const a = PRICE_TABLE.assumptions;
  out.push('', `\\* usage assumed per region and month: ${a.internetEgressGbPerRegion} GB internet egress, ${a.natProcessedGbPerRegion} GB through NAT, ` +
    `${a.crossAzGbPerRegion} GB cross-zone, ${a.lcuPerLoadBalancer} LCU per load balancer, ${a.acceleratorTrafficShare * 100} % of egress through the accelerator ` +
    `when there is one, ${PRICE_TABLE.mqStorageGbPerInstance} GB per broker instance. Not included: CloudWatch Logs and metrics ingestion, ` +
    'Amazon Managed Prometheus samples and queries, S3 storage and requests, ECR, support plans, taxes, savings plans or reserved capacity.');
  return out.join('\n') + '\n';
}
