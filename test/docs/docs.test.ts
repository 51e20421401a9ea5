import { readdirSync, readFileSync } from 'fs';
import { join, resolve } from 'path';
import { ALERT_GROUPS } from '../../monitoring/alert-rules';
import { parseConfigText, validateConfig } from '../../runtime/common/config/load';
import { ProxyConfigSchema } from '../../runtime/proxy/config';
import { WorkerConfigSchema } from '../../runtime/worker/config';
import { PROXY_CONFIG_DOC_PATH, renderProxyConfigDoc } from '../../scripts/docs';

const repo = resolve(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(repo, path), 'utf8');
const docs = readdirSync(join(repo, 'docs')).filter((f) => f.endsWith('.md')).sort();

/** Every ```yaml block of a Markdown page, with the line it starts on. */
function yamlBlocks(text: string): { line: number; yaml: string }[] {
  const blocks: { line: number; yaml: string }[] = [];
  const re = /^```yaml[^\n]*\n([\s\S]*?)^```/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) blocks.push({ line: text.slice(0, m.index).split('\n').length, yaml: m[1] });
  return blocks;
}

/** Which runtime's config the YAML examples of each page are. */
const CONFIG_OF_PAGE: Record<string, 'proxy' | 'worker'> = {
  'proxy.md': 'proxy',
  'cell-capacity.md': 'proxy',
  'jobs-api.md': 'proxy',
  'security.md': 'proxy',
  'worker-config.md': 'worker',
};

describe('documentation', () => {
  it('keeps the README a short pitch (under 15 KB) that links every page under docs/', () => {
    const readme = read('README.md');
    expect(Buffer.byteLength(readme)).toBeLessThan(15 * 1024);
    expect(readme).toContain('npm ci && npm run synth');
    expect(readme).toContain('npm test');
    for (const page of docs) expect(readme).toContain(`docs/${page}`);
  });

  it('has docs/proxy-config.md current with schema/proxy-config.schema.json (npm run docs regenerates it)', () => {
    expect(read(PROXY_CONFIG_DOC_PATH)).toBe(renderProxyConfigDoc(repo));
  });

  it('documents every field of the proxy config schema', () => {
    const page = read(PROXY_CONFIG_DOC_PATH);
    const schema = JSON.parse(read('schema/proxy-config.schema.json'));
    for (const key of Object.keys(schema.properties)) expect(page).toContain(`## \`${key}\``);
    for (const field of ['server.port', 'pools.<name>.upstreams[].url', 'routes[].pools', 'admission.enabled']) expect(page).toContain(`\`${field}\``);
  });

  it('has a runbook section in docs/operating.md for every alert surgeguard ships', () => {
    const page = read('docs/operating.md');
    const sections = new Set([...page.matchAll(/^### (\S+)\s*$/gm)].map((m) => m[1]));
    const alerts = ALERT_GROUPS.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.filter((a) => !sections.has(a))).toEqual([]);
  });

  it('checks every YAML config example in docs/ against its runtime schema (fragments merged into the complete example)', () => {
    const complete = yamlBlocks(read('docs/proxy.md')).find((b) => /^server:|^pools:/m.test(b.yaml));
    expect(complete).toBeDefined();
    const base = parseConfigText(complete!.yaml, 'proxy.yaml') as Record<string, unknown>;
    let checked = 0;
    for (const page of docs) {
      const blocks = yamlBlocks(read(`docs/${page}`));
      if (blocks.length === 0) continue;
      const kind = CONFIG_OF_PAGE[page];
      if (kind === undefined) throw new Error(`docs/${page} has YAML examples: say whose config they are in CONFIG_OF_PAGE`);
      for (const { line, yaml } of blocks) {
        const source = `docs/${page}:${line}`;
        const raw = parseConfigText(yaml, 'example.yaml') as Record<string, unknown>;
        if (kind === 'proxy') validateConfig(ProxyConfigSchema, { ...base, ...raw }, source);
        else validateConfig(WorkerConfigSchema, raw, source);
        checked++;
      }
    }
    // The README's quickstart config is complete on its own.
    for (const { line, yaml } of yamlBlocks(read('README.md'))) {
      validateConfig(ProxyConfigSchema, parseConfigText(yaml, 'proxy.yaml'), `README.md:${line}`);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(5);
  });
});
