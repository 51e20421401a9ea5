import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderRuleFile } from './alert-rules';

/** Where the rendered rule file is kept in the repository, for review in pull requests. */
export const RULE_FILE_PATH = join('monitoring', 'generated', 'surgeguard-alerts.rules.yml');

/** Writes the rendered rule file under `root` (the repository root) and returns its path. */
export function writeRuleFile(root: string): string {
  const path = join(root, RULE_FILE_PATH);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderRuleFile());
  return path;
}

if (require.main === module) {
  // dist/monitoring/render.js -> repository root is two levels up.
  const written = writeRuleFile(join(__dirname, '..', '..'));
  console.log(`monitoring: wrote ${written}`);
}
