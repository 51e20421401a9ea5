import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

/** The repository this test suite belongs to. */
export const REPO_ROOT = resolve(__dirname, '..', '..');

/** Build and state output, never part of a checkout. */
const NOT_SOURCE = new Set(['node_modules', 'dist', 'cdktf.out', '.git', '.gen', '.terraform', 'terraform-state', 'coverage']);

/**
 * A copy of this checkout's sources at a new path (`<tmp>/<prefix>XXXX/<nested...>/surgeguard`),
 * with node_modules linked to this checkout's (installing again would take minutes). Returns the
 * copy's root and a clean-up.
 */
export function copyCheckout(prefix: string, nested: readonly string[] = []): { root: string; remove: () => void } {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const root = join(base, ...nested, 'surgeguard');
  cpSync(REPO_ROOT, root, {
    recursive: true,
    filter: (src) => {
      const rel = relative(REPO_ROOT, src);
      return rel === '' || !NOT_SOURCE.has(rel.split(/[\\/]/)[0]);
    },
  });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  return { root, remove: () => rmSync(base, { recursive: true, force: true }) };
}
