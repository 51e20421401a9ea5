import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** One entry of a lockfileVersion 3 `packages` map (the fields npm ci reads). */
interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  license?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  bin?: Record<string, string> | string;
  engines?: Record<string, string>;
  os?: string[];
  cpu?: string[];
  optional?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  hasInstallScript?: boolean;
  link?: boolean;
  inBundle?: boolean;
  [field: string]: unknown;
}

interface Lock {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

/** Where Node finds `name` from the package installed at `location` (a `packages` key), in `packages`. */
function resolveFrom(packages: Record<string, LockEntry>, location: string, name: string): string | undefined {
  let at = location;
  for (;;) {
    const candidate = at === '' ? `node_modules/${name}` : `${at}/node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (at === '') return undefined;
    const i = at.lastIndexOf('/node_modules/');
    at = i < 0 ? '' : at.slice(0, i);
  }
}

/**
 * A consumer project that installs the packed library and its peers from the npm cache only:
 * `package.json` naming the tarball (copied in) and exact versions, and a `package-lock.json` whose
 * entries are this repository's (same versions, same integrity, same layout), so `npm ci --offline`
 * finds every tarball in the cache `npm ci` filled here, without any registry metadata.
 *
 * `dependencies` / `devDependencies` name packages of the repository's lock; their versions come from it.
 */
export function writeConsumerProject(
  dir: string,
  options: { repo: string; tarball: string; dependencies: readonly string[]; devDependencies: readonly string[] },
): { packageName: string; versions: Record<string, string> } {
  const lock = JSON.parse(readFileSync(join(options.repo, 'package-lock.json'), 'utf8')) as Lock;
  if (lock.lockfileVersion !== 3) throw new Error(`package-lock.json: lockfileVersion ${lock.lockfileVersion}, expected 3`);
  const pkg = JSON.parse(readFileSync(join(options.repo, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    license?: string;
    engines?: Record<string, string>;
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  const tarball = basename(options.tarball);
  copyFileSync(options.tarball, join(dir, tarball));
  const integrity = `sha512-${createHash('sha512').update(readFileSync(options.tarball)).digest('base64')}`;

  const versionOf = (name: string) => {
    const e = lock.packages[`node_modules/${name}`];
    if (!e?.version) throw new Error(`package-lock.json has no top-level ${name}`);
    return e.version;
  };
  const versions = Object.fromEntries([...options.dependencies, ...options.devDependencies].map((n) => [n, versionOf(n)]));
  const dependencies = { [pkg.name]: `file:${tarball}`, ...Object.fromEntries(options.dependencies.map((n) => [n, versions[n]])) };
  const devDependencies = Object.fromEntries(options.devDependencies.map((n) => [n, versions[n]]));

  // The library's own entry, then the closure of the repository's entries its dependencies reach.
  const packages: Record<string, LockEntry> = {
    '': { name: 'consumer', version: '0.0.0', dependencies, devDependencies },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: `file:${tarball}`,
      integrity,
      license: pkg.license,
      dependencies: pkg.dependencies,
      engines: pkg.engines,
      peerDependencies: pkg.peerDependencies,
    },
  };
  const source: Record<string, LockEntry> = { ...lock.packages, [`node_modules/${pkg.name}`]: packages[`node_modules/${pkg.name}`] };
  const queue: string[] = [`node_modules/${pkg.name}`, ...[...options.dependencies, ...options.devDependencies].map((n) => `node_modules/${n}`)];
  while (queue.length > 0) {
    const location = queue.shift()!;
    const entry = source[location];
    if (!packages[location]) {
      // Flags describe the repository's tree (dev, peer); npm recomputes them for this one.
      const { dev: _dev, devOptional: _devOptional, peer: _peer, ...rest } = entry;
      packages[location] = rest;
    }
    const optionalPeers = new Set(Object.entries(entry.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional).map(([n]) => n));
    const wanted = [
      ...Object.keys(entry.dependencies ?? {}),
      ...Object.keys(entry.optionalDependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}).filter((n) => !optionalPeers.has(n)),
    ];
    for (const name of wanted) {
      const found = resolveFrom(source, location, name);
      if (found === undefined) {
        if (entry.optionalDependencies?.[name] !== undefined) continue; // e.g. another platform's binary
        throw new Error(`package-lock.json: ${location} needs ${name}, which the lock does not hold`);
      }
      if (!packages[found] && !queue.includes(found)) queue.push(found);
    }
  }
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'consumer', version: '0.0.0', private: true, dependencies, devDependencies }, null, 2)}\n`,
  );
  writeFileSync(
    join(dir, 'package-lock.json'),
    `${JSON.stringify({ name: 'consumer', version: '0.0.0', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  );
  return { packageName: pkg.name, versions };
}
