import { readFileSync, writeFileSync } from 'fs';
import { basename, join, resolve } from 'path';

/**
 * Generated documentation: `docs/proxy-config.md`, the reference of every proxy config field,
 * rendered from `schema/proxy-config.schema.json` (itself exported from the proxy's zod schema by
 * `npm run schema`). `npm run docs` rewrites it; a test fails when the committed page is stale.
 */

type Schema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  minLength?: number;
  [key: string]: unknown;
};

/** The repository root, from scripts/ (jest) or dist/scripts/ (compiled). */
export function repoRoot(): string {
  const above = resolve(__dirname, '..');
  return basename(above) === 'dist' ? resolve(above, '..') : above;
}

export const PROXY_SCHEMA_PATH = 'schema/proxy-config.schema.json';
export const PROXY_CONFIG_DOC_PATH = 'docs/proxy-config.md';

function typeOf(s: Schema): string {
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return alternatives.map(typeOf).join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && s.properties === undefined && typeof s.additionalProperties === 'object') return `map of ${typeOf(s.additionalProperties)}`;
  if (s.type === 'object' && s.properties) {
    const keys = Object.keys(s.properties);
    return keys.length <= 3 ? `{ ${keys.join(', ')} }` : 'object';
  }
  return Array.isArray(s.type) ? s.type.join(' \\| ') : (s.type ?? 'any');
}

function bounds(s: Schema): string {
  const parts: string[] = [];
  if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) parts.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`< ${s.exclusiveMaximum}`);
  if (s.minItems !== undefined) parts.push(`at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`);
  if (s.minLength !== undefined && s.minLength > 1) parts.push(`at least ${s.minLength} characters`);
  return parts.join(', ');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n+/g, ' ').trim();
}

function defaultOf(s: Schema): string {
  if (s.default === undefined) return '';
  const json = JSON.stringify(s.default);
  // Whole default sub-objects are listed field by field below; keep the cell short.
  if (typeof s.default === 'object' && s.default !== null && json.length > 40) return '(see fields)';
  return `\`${json}\``;
}

/** One row per field, depth first, with the dotted path (`pools.<name>.upstreams[].url`). */
function rows(s: Schema, path: string, required: boolean, out: string[][]): void {
  const notes = [bounds(s), required ? 'required' : ''].filter((x) => x !== '').join('; ');
  if (path !== '') out.push([`\`${path}\``, cell(typeOf(s)), cell(defaultOf(s)), cell([s.description ?? '', notes ? `(${notes})` : ''].join(' '))]);
  const object = (s.anyOf ?? s.oneOf)?.find((a) => a.properties) ?? s;
  if (object.properties) {
    const req = new Set(object.required ?? []);
    for (const [key, child] of Object.entries(object.properties)) rows(child, path === '' ? key : `${path}.${key}`, req.has(key), out);
  }
  if (typeof object.additionalProperties === 'object' && object.properties === undefined) {
    const nested: string[][] = [];
    rows(object.additionalProperties, `${path}.<name>`, false, nested);
    out.push(...nested.slice(1));
  }
  if (s.items) {
    const nested: string[][] = [];
    rows(s.items, `${path}[]`, false, nested);
    out.push(...nested.slice(1));
  }
}

/** The Markdown reference of a config JSON Schema: one table per top-level section. */
export function renderConfigReference(schema: Schema, title: string, source: string): string {
  const lines = [
    `# ${title}`,
    '',
    `<!-- Generated from ${source} by \`npm run docs\`; do not edit (a test fails when it is stale). -->`,
    '',
    'Every field of the proxy config file (YAML or JSON, given by `--config` or `SURGEGUARD_CONFIG`), its',
    'type, default and meaning. Secrets are never written inline: a secret field takes',
    '`{ fromEnv: NAME }` and reads the environment variable at start-up. An invalid config stops',
    'start-up naming each wrong field. A complete example: [proxy.md](proxy.md#config-file-complete-example).',
    '',
  ];
  const required = new Set(schema.required ?? []);
  for (const [key, section] of Object.entries(schema.properties ?? {})) {
    const out: string[][] = [];
    rows(section, key, required.has(key), out);
    lines.push(`## \`${key}\``, '', '| field | type | default | description |', '|---|---|---|---|');
    for (const r of out) lines.push(`| ${r.join(' | ')} |`);
    lines.push('');
  }
  return lines.join('\n');
}

/** The current text of docs/proxy-config.md, from the committed schema. */
export function renderProxyConfigDoc(root = repoRoot()): string {
  const schema = JSON.parse(readFileSync(join(root, PROXY_SCHEMA_PATH), 'utf8')) as Schema;
  return renderConfigReference(schema, 'Proxy config reference', `\`${PROXY_SCHEMA_PATH}\``);
}

if (require.main === module) {
  const root = repoRoot();
  writeFileSync(join(root, PROXY_CONFIG_DOC_PATH), renderProxyConfigDoc(root));
  console.log(`docs: wrote ${PROXY_CONFIG_DOC_PATH} from ${PROXY_SCHEMA_PATH}`);
}
