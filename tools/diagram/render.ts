import { Topology, TopologyEdge, TopologyNode } from './topology';

const SHAPES: Readonly<Record<TopologyNode['kind'], string>> = {
  clients: 'oval',
  dns: 'note',
  'health-check': 'component',
  accelerator: 'hexagon',
  'load-balancer': 'box3d',
  cluster: 'box',
  'node-pool': 'folder',
  workload: 'box',
  'data-store': 'cylinder',
  network: 'box',
};

const FILL: Readonly<Record<TopologyNode['kind'], string>> = {
  clients: '#ffffff',
  dns: '#fff2cc',
  'health-check': '#fce5cd',
  accelerator: '#d9ead3',
  'load-balancer': '#cfe2f3',
  cluster: '#d9d2e9',
  'node-pool': '#ead1dc',
  workload: '#ffffff',
  'data-store': '#f4cccc',
  network: '#eeeeee',
};

function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Graphviz DOT source: one cluster subgraph per group, nested as the groups are. */
export function renderDot(t: Topology): string {
  const out: string[] = [];
  out.push(`digraph ${dotString(`surgeguard ${t.environment}`)} {`);
  out.push('  rankdir=LR;');
  out.push('  compound=true;');
  out.push('  node [fontname="Helvetica", fontsize=10, style=filled];');
  out.push('  edge [fontname="Helvetica", fontsize=9];');
  out.push(`  label=${dotString(`surgeguard ${t.environment}: synthesized topology`)}; labelloc=t;`);
  const nodeLine = (n: TopologyNode, indent: string) =>
    `${indent}${n.id} [label=${dotString(n.label)}, shape=${SHAPES[n.kind]}, fillcolor=${dotString(FILL[n.kind])}];`;
  for (const n of t.nodes.filter((n) => n.group === '')) out.push(nodeLine(n, '  '));
  const emit = (parent: string | undefined, indent: string) => {
    for (const g of t.groups.filter((g) => g.parent === parent)) {
      out.push(`${indent}subgraph cluster_${g.id} {`);
      out.push(`${indent}  label=${dotString(g.label)}; style=rounded;`);
      for (const n of t.nodes.filter((n) => n.group === g.id)) out.push(nodeLine(n, `${indent}  `));
      emit(g.id, `${indent}  `);
      out.push(`${indent}}`);
    }
  };
  emit(undefined, '  ');
  for (const e of t.edges) out.push(`  ${e.from} -> ${e.to} [label=${dotString(e.label)}${edgeStyleDot(e)}];`);
  out.push('}');
  return `${out.join('\n')}\n`;
}

function edgeStyleDot(e: TopologyEdge): string {
  if (e.style === 'dns') return ', style=dashed';
  if (e.style === 'probe') return ', style=dotted, color="#b45f06"';
  return '';
}

function mermaidText(s: string): string {
  return `"${s.replace(/"/g, '#quot;')}"`;
}

/** Mermaid flowchart source (renders on GitHub and in most Markdown viewers). */
export function renderMermaid(t: Topology): string {
  const out: string[] = ['flowchart LR'];
  const open = (n: TopologyNode): [string, string] => {
    switch (n.kind) {
      case 'data-store': return ['[(', ')]'];
      case 'clients': return ['((', '))'];
      case 'accelerator': return ['{{', '}}'];
      case 'dns': return ['>', ']'];
      case 'health-check': return ['[/', '/]'];
      default: return ['[', ']'];
    }
  };
  const nodeLine = (n: TopologyNode, indent: string) => {
    const [l, r] = open(n);
    return `${indent}${n.id}${l}${mermaidText(n.label)}${r}`;
  };
  for (const n of t.nodes.filter((n) => n.group === '')) out.push(nodeLine(n, '  '));
  const emit = (parent: string | undefined, indent: string) => {
    for (const g of t.groups.filter((g) => g.parent === parent)) {
      out.push(`${indent}subgraph ${g.id}[${mermaidText(g.label)}]`);
      for (const n of t.nodes.filter((n) => n.group === g.id)) out.push(nodeLine(n, `${indent}  `));
      emit(g.id, `${indent}  `);
      out.push(`${indent}end`);
    }
  };
  emit(undefined, '  ');
  for (const e of t.edges) {
    const arrow = e.style === 'traffic' ? '-->' : '-.->';
    out.push(`  ${e.from} ${arrow}${e.label ? `|${mermaidText(e.label)}|` : ''} ${e.to}`);
  }
  return `${out.join('\n')}\n`;
}
