import { createHash } from 'crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { basename, join, resolve } from 'path';
import { synthesize } from '../main';

/**
 * Resource inventories: for every synthesized stack, one line per Terraform block (each resource,
 * data source, output, provider, ...) with a short hash of its content and, for resources and data
 * sources, the construct path that produced it. Committed under test/stacks/inventories/ and compared
 * by the stacks test: any change to any block of any environment fails it, naming the block. Small
 * enough to review in a diff, unlike a snapshot of the whole JSON.
 *
 * Regenerate after an intended change with `npm run inventories`, then review the diff like code:
 * a changed hash is a changed resource; a changed address is a resource Terraform would destroy and
 * create again (construct ids are state addresses).
 */
export function inventoryDir(): string {
  // scripts/ when run from the sources (jest), dist/scripts/ when compiled: the repository is above either.
  const above = resolve(__dirname, '..');
  const root = basename(above) === 'dist' ? resolve(above, '..') : above;
  return join(root, 'test', 'stacks', 'inventories');
}

/** The command that rewrites the inventories (printed by the failing test). */
export const REGENERATE_COMMAND = 'npm run inventories';

/** Hex characters of the sha256 kept per block: 48 bits, ample to notice a change. */
const HASH_CHARS = 12;

/** One line of an inventory. */
export interface InventoryEntry {
  /** `resource <type>.<name>`, `data <type>.<name>`, `output <name>`, `provider <name>`, `terraform`, ... */
  readonly address: string;
  readonly hash: string;
  /** Construct path of a resource or data source (`//.metadata.path`), when synth recorded one. */
  readonly path?: string;
  /** The block itself (not written to the file; printed when the test finds it changed). */
  readonly block: unknown;
}

/** JSON with object keys sorted, so the hash does not depend on key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Short content hash of a block. */
export function hashBlock(block: unknown): string {
  return createHash('sha256').update(canonical(block)).digest('hex').slice(0, HASH_CHARS);
}

/** Blocks keyed by type then name. */
const TYPED = new Set(['resource', 'data']);
/** Blocks keyed by name. */
const NAMED = new Set(['output', 'variable', 'locals', 'module', 'provider']);

/** Every block of one stack's Terraform JSON, sorted by address. */
export function inventoryOf(tf: Record<string, unknown>): InventoryEntry[] {
  const entries: InventoryEntry[] = [];
  for (const [kind, value] of Object.entries(tf)) {
    if (TYPED.has(kind)) {
      for (const [type, byName] of Object.entries(value as Record<string, Record<string, any>>)) {
        for (const [name, block] of Object.entries(byName)) {
          const path = block?.['//']?.metadata?.path;
          entries.push({ address: `${kind} ${type}.${name}`, hash: hashBlock(block), path: typeof path === 'string' ? path : undefined, block });
        }
      }
    } else if (NAMED.has(kind) && value !== null && typeof value === 'object') {
      for (const [name, block] of Object.entries(value as Record<string, unknown>)) {
        entries.push({ address: `${kind} ${name}`, hash: hashBlock(block), block });
      }
    } else {
      entries.push({ address: kind, hash: hashBlock(value), block: value });
    }
  }
  return entries.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** The committed text of one stack's inventory. */
export function renderInventory(stack: string, tf: Record<string, unknown>): string {
  const header = [
    `# Inventory of stack ${stack}: every block of its synthesized Terraform JSON, a hash of its content`,
    `# and the construct path that made it. Checked by the stacks test; after an intended change run`,
    `# \`${REGENERATE_COMMAND}\` and review this diff (a changed address = a resource replaced in state).`,
  ];
  const lines = inventoryOf(tf).map((e) => [e.address, e.hash, e.path].filter((x) => x !== undefined).join('  '));
  return `${[...header, ...lines].join('\n')}\n`;
}

/** A parsed inventory line. */
export interface InventoryLine {
  readonly address: string;
  readonly hash: string;
  readonly path?: string;
}

/** Parses a committed inventory (comment lines skipped). */
export function parseInventory(text: string): InventoryLine[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [address, hash, path] = l.split('  ');
      return { address, hash, path };
    });
}

/**
 * What differs between a committed inventory and a fresh synth, one human-readable line per
 * block (with the new content of changed and added blocks); empty when they agree.
 */
export function compareInventory(stack: string, committed: string | undefined, tf: Record<string, unknown>): string[] {
  if (committed === undefined) return [`stack ${stack}: no committed inventory`];
  const before = new Map(parseInventory(committed).map((l) => [l.address, l]));
  const now = inventoryOf(tf);
  const problems: string[] = [];
  const show = (block: unknown) => {
    const json = JSON.stringify(block, null, 2);
    return json.length > 1500 ? `${json.slice(0, 1500)}\n  ...` : json;
  };
  for (const entry of now) {
    const old = before.get(entry.address);
    before.delete(entry.address);
    if (old === undefined) problems.push(`stack ${stack}: added ${entry.address}${entry.path ? ` (${entry.path})` : ''}:\n${show(entry.block)}`);
    else if (old.hash !== entry.hash) problems.push(`stack ${stack}: changed ${entry.address}${entry.path ? ` (${entry.path})` : ''}, now:\n${show(entry.block)}`);
    else if (old.path !== entry.path) problems.push(`stack ${stack}: ${entry.address} now made by ${entry.path} (was ${old.path})`);
  }
  for (const old of before.values()) problems.push(`stack ${stack}: removed ${old.address}${old.path ? ` (${old.path})` : ''}`);
  return problems;
}

/** Reads the committed inventory of a stack, or undefined. */
export function readInventory(stack: string, dir = inventoryDir()): string | undefined {
  try {
    return readFileSync(join(dir, `${stack}.txt`), 'utf8');
  } catch {
    return undefined;
  }
}

/** Names of the stacks with a committed inventory. */
export function inventoriedStacks(dir = inventoryDir()): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.txt')).map((f) => f.slice(0, -'.txt'.length)).sort();
  } catch {
    return [];
  }
}

/** Synthesizes every environment and rewrites the inventory directory from it (stale files removed). */
export function writeInventories(dir = inventoryDir()): string[] {
  const outdir = mkdtempSync(join(tmpdir(), 'surgeguard-inventory-'));
  try {
    synthesize('all', outdir);
    const stacks = readdirSync(join(outdir, 'stacks')).sort();
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const stack of stacks) {
      const tf = JSON.parse(readFileSync(join(outdir, 'stacks', stack, 'cdk.tf.json'), 'utf8'));
      writeFileSync(join(dir, `${stack}.txt`), renderInventory(stack, tf));
    }
    return stacks;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const stacks = writeInventories();
  console.log(`inventories: ${stacks.length} stacks written to ${inventoryDir()}`);
}
