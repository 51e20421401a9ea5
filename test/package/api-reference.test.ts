import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = resolve(__dirname, '..', '..');
const committed = join(repo, 'docs', 'api');

function tree(dir: string): Map<string, string> {
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile());
  return new Map(files.sort().map((f) => [f.split('\\').join('/'), readFileSync(join(dir, f), 'utf8')]));
}

// typedoc (typedoc.json) over the package entry: ~30 s on a loaded 2-core machine.
describe('API reference (docs/api/, generated from the doc comments by `npm run docs:api`)', () => {
  let generated: Map<string, string>;
  let scratch: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'surgeguard-api-'));
    await run(process.execPath, [join(repo, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', scratch], { cwd: repo, timeout: 300_000, maxBuffer: 16 << 20 });
    generated = tree(scratch);
  }, 360_000);
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('is current: the committed pages are exactly what `npm run docs:api` generates (run it after changing a doc comment of an exported construct or props)', () => {
    const pages = tree(committed);
    expect([...pages.keys()]).toEqual([...generated.keys()]);
    const stale = [...pages].filter(([file, text]) => generated.get(file) !== text).map(([file]) => file);
    expect(stale).toEqual([]);
  });

  it('documents each construct of the entry and every prop with its description and default', () => {
    for (const name of ['Network', 'InferenceCluster', 'RegionalLoadBalancer', 'GlobalTrafficManager', 'InferenceWorkloads', 'RuntimeArtifactObjects', 'ArtifactStore']) {
      expect(generated.get('README.md')).toContain(`[${name}](classes/${name}.md)`);
    }
    const network = generated.get('interfaces/NetworkProps.md')!;
    expect(network).toMatch(/`cidrBlock` \| `readonly` \| `string` \| IPv4 CIDR of the VPC/);
    expect(network).toMatch(/`natGateways\?` .*\*\*Default\*\* `'per-az'`/);
  });
});
