import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { proxyConfigJsonSchema } from './config';

/** Where the committed JSON Schema of the proxy config lives (a test checks it is current). */
export const PROXY_SCHEMA_PATH = 'schema/proxy-config.schema.json';

/** The file content: stable key order from the zod schema, 2-space indent, final newline. */
export function renderProxySchema(): string {
  return `${JSON.stringify({ $id: 'https://surgeguard.dev/schema/proxy-config.schema.json', title: 'surgeguard proxy configuration', ...proxyConfigJsonSchema() }, null, 2)}\n`;
}

if (require.main === module) {
  const target = resolve(process.argv[2] ?? PROXY_SCHEMA_PATH);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, renderProxySchema());
  process.stdout.write(`wrote ${target}\n`);
}
