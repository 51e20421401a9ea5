import { CostEstimate } from '../cost/estimate';
import { usd } from '../cost/format';
import { Category } from './categories';
import { AttributeChange, ResourceChange, SynthDiff } from './compare';

/** A cost comparison of one environment, before and after. */
export interface CostDelta {
  readonly environment: string;
  readonly before?: CostEstimate;
  readonly after?: CostEstimate;
}

/** Everything the report shows: the diff, the cost deltas, and labels for the two sides. */
export interface DiffReport {
  readonly before: string;
  readonly after: string;
  readonly diff: SynthDiff;
  readonly costs: readonly CostDelta[];
}

/** The replacements and destructions of stateful resources (what `--fail-on replace` fails on). */
export function statefulRisks(diff: SynthDiff): ResourceChange[] {
  return diff.stacks.flatMap((s) => s.resources.filter((r) => r.stateful !== undefined));
}

const SECTIONS: readonly [Category, string, string][] = [
  ['capacity', 'Capacity', 'node groups, instance types, spot/on-demand mix, replicas, autoscaling bounds, data-store sizes'],
  ['traffic', 'Traffic', 'DNS records and weights, health checks, accelerator, load balancers, listeners and rules'],
  ['security', 'Security', 'IAM, security groups, KMS, encryption, public exposure, policy suppressions'],
  ['other', 'Everything else', ''],
];

const MAX_VALUE = 160;

/** The report as Markdown for a pull request: risk first, then capacity, traffic, security, the rest, cost. */
export function renderMarkdown(report: DiffReport): string {
  const { diff } = report;
  const out: string[] = [];
  const all = diff.stacks.flatMap((s) => s.resources);
  const count = (action: string) => all.filter((r) => r.action === action).length;
  out.push(`# Synth diff: \`${report.before}\` → \`${report.after}\``, '');
  if (diff.stacks.length === 0) {
    out.push('No infrastructure change: every stack synthesizes to the same resources.', '');
  } else {
    out.push(`${diff.stacks.length} stack(s) changed: **${count('create')} to add, ${count('update')} to change, ${count('replace')} to replace, ${count('delete')} to destroy**.`);
    const stackLines = diff.stacks.filter((s) => s.status !== 'changed').map((s) => `- stack \`${s.name}\` ${s.status === 'added' ? 'added' : '**removed**'}`);
    if (stackLines.length > 0) out.push('', ...stackLines);
    out.push('');
  }

  // Risk first: stateful replacements/destructions, then the other replacements, then possible ones.
  const stateful = statefulRisks(diff);
  const otherReplaced = all.filter((r) => r.stateful === undefined && r.action === 'replace');
  const otherDeleted = all.filter((r) => r.stateful === undefined && r.action === 'delete');
  const possible = all.filter((r) => r.action !== 'replace' && r.mayReplace.length > 0);
  out.push('## ⚠️ Risk: what could destroy data or drop traffic', '');
  if (stateful.length === 0 && otherReplaced.length === 0 && possible.length === 0) {
    out.push('Nothing is replaced; nothing stateful is destroyed.', '');
  }
  if (stateful.length > 0) {
    out.push('| stack | resource | action | forced by | what is lost |', '|---|---|---|---|---|');
    for (const r of stateful) {
      out.push(`| ${r.stack} | \`${r.path}\` (${r.type}) | **${r.action === 'delete' ? 'DESTROY' : 'REPLACE'}** | ${forcedBy(r)} | ${r.stateful} |`);
    }
    out.push('');
  }
  if (otherReplaced.length > 0) {
    out.push(`Also replaced (recreated; traffic through them is interrupted meanwhile): ${otherReplaced.length}`, '');
    for (const r of otherReplaced) out.push(`- ${r.stack}: \`${r.path}\` (${r.type}) — ${forcedBy(r)}`);
    out.push('');
  }
  if (possible.length > 0) {
    out.push('May be replaced, depending on the values (check the plan):', '');
    for (const r of possible) {
      for (const m of r.mayReplace) out.push(`- ${r.stack}: \`${r.path}\` (${r.type}) \`${m.attribute}\` changed — ${m.note}`);
    }
    out.push('');
  }
  if (otherDeleted.length > 0) {
    out.push(`Destroyed (not stateful): ${otherDeleted.length}`, '');
    for (const r of otherDeleted) out.push(`- ${r.stack}: \`${r.path}\` (${r.type})`);
    out.push('');
  }

  for (const [category, title, scope] of SECTIONS) {
    const body: string[] = [];
    for (const stack of diff.stacks) {
      const lines: string[] = [];
      for (const r of stack.resources) {
        if (r.action === 'create' || r.action === 'delete') {
          if (r.category !== category) continue;
          lines.push(`- ${r.action === 'create' ? '➕ add' : '➖ **destroy**'} \`${r.path}\` (${r.type})`);
          if (r.suppressions) lines.push(...formatSuppressions(r));
          continue;
        }
        const changes = r.changes.filter((c) => c.category === category);
        const suppressionChange = category === 'security' && r.suppressions !== undefined;
        if (changes.length === 0 && !suppressionChange) continue;
        lines.push(`- ${r.action === 'replace' ? '🔁 **replace**' : '✏️ change'} \`${r.path}\` (${r.type})`);
        for (const c of changes) lines.push(`  - ${formatChange(c)}`);
        if (suppressionChange) lines.push(...formatSuppressions(r));
      }
      if (category === 'other') for (const c of stack.settings) lines.push(`- ✏️ ${formatChange(c)}`);
      if (lines.length > 0) body.push(`### ${stack.name}`, '', ...lines, '');
    }
    if (body.length > 0) {
      out.push(`## ${title}`, '');
      if (scope) out.push(`_${scope}_`, '');
      out.push(...body);
    }
  }

  const costLines = report.costs.filter((c) => c.before?.total.min !== c.after?.total.min || c.before?.total.max !== c.after?.total.max);
  if (costLines.length > 0) {
    out.push('## Cost (monthly estimate)', '');
    out.push('| environment | before (min – max) | after (min – max) | delta at min | delta at max |', '|---|---:|---:|---:|---:|');
    for (const c of costLines) {
      const b = c.before?.total ?? { min: 0, max: 0 };
      const a = c.after?.total ?? { min: 0, max: 0 };
      out.push(`| ${c.environment} | ${usd(b.min)} – ${usd(b.max)} | ${usd(a.min)} – ${usd(a.max)} | ${signed(a.min - b.min)} | ${signed(a.max - b.max)} |`);
    }
    out.push('', `_Prices of ${report.costs[0].after?.asOf ?? report.costs[0].before?.asOf}; \`npm run cost -- <env>\` shows the lines and assumptions._`, '');
  }
  if (diff.noiseOnly > 0) {
    out.push(`_${diff.noiseOnly} resource(s) differ only in ordering of sets or formatting of JSON documents (not shown)._`, '');
  }
  return out.join('\n');
}

function signed(n: number): string {
  if (Math.round(n) === 0) return '$0';
  return n > 0 ? `+${usd(n)}` : `−${usd(-n)}`;
}

function forcedBy(r: ResourceChange): string {
  if (r.action === 'delete') return 'removed from the configuration';
  return r.forcedBy
    .map((f) => (f.replacedDependency ? `\`${f.attribute}\` (refers to replaced \`${f.replacedDependency}\`)` : `\`${f.attribute}\` changed`))
    .join(', ');
}

function formatSuppressions(r: ResourceChange): string[] {
  const before = new Map(r.suppressions!.before.map((s) => [s.rule, s.reason]));
  const after = new Map(r.suppressions!.after.map((s) => [s.rule, s.reason]));
  const lines: string[] = [];
  for (const [rule, reason] of after) {
    if (before.get(rule) !== reason) lines.push(`  - policy rule **${rule} suppressed**: ${reason}`);
  }
  for (const rule of before.keys()) if (!after.has(rule)) lines.push(`  - policy rule ${rule} no longer suppressed`);
  return lines;
}

/** One attribute change: `path`: old → new, or "artifact changed: proxy". */
export function formatChange(c: AttributeChange): string {
  if (c.artifact) return `\`${c.path}\`: artifact changed: **${c.artifact}** (${shortHash(c.before)} → ${shortHash(c.after)})`;
  if (c.recomputedFrom) return `\`${c.path}\`: known after apply (refers to replaced \`${c.recomputedFrom}\`)`;
  if (c.before === undefined) return `\`${c.path}\`: added ${value(c.after)}`;
  if (c.after === undefined) return `\`${c.path}\`: removed (was ${value(c.before)})`;
  return `\`${c.path}\`: ${value(c.before)} → ${value(c.after)}`;
}

function shortHash(v: unknown): string {
  const m = /[0-9a-f]{64}/.exec(String(v));
  return m ? `${m[0].slice(0, 12)}…` : value(v);
}

function value(v: unknown): string {
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  const clipped = text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE)}…` : text;
  return `\`${clipped.replace(/`/g, "'")}\``;
}
