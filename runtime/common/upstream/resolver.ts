import { lookup as dnsLookup } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP, type LookupFunction } from 'node:net';

/**
 * Name resolution of upstream members. `resolve` answers every address of a name (A and AAAA):
 * for a Kubernetes headless Service, one per ready pod. An empty answer is authoritative (the
 * name exists with no address, or does not exist: no pod is ready); `undefined` means "could
 * not tell" (a DNS timeout), and the caller keeps what it knew.
 */
export type Resolver = (host: string) => Promise<readonly string[] | undefined>;

/**
 * Environment variable naming a JSON file `{ "<host name>": ["<address>", ...] }` that answers
 * for the names it lists, before DNS (re-read on every resolution, so changing the file is like
 * a DNS change). For running the configs the stacks render on one machine (benchmarks, local
 * runs): pods become processes on 127.0.0.x addresses. Names not in the file go to DNS.
 */
export const HOSTS_OVERRIDE_ENV = 'SURGEGUARD_HOSTS_FILE';

const EMPTY_ANSWER = new Set(['ENOTFOUND', 'ENODATA']);

/** Addresses of `host` from the override file, or undefined when it does not list the name. */
export function overriddenAddresses(host: string, env: NodeJS.ProcessEnv = process.env): readonly string[] | undefined {
  const file = env[HOSTS_OVERRIDE_ENV];
  if (!file) return undefined;
  let table: unknown;
  try {
    table = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${HOSTS_OVERRIDE_ENV}=${file}: not a readable JSON file (${(err as Error).message})`);
  }
  const entry = (table as Record<string, unknown>)[host];
  if (entry === undefined) return undefined;
  if (!Array.isArray(entry) || entry.some((a) => typeof a !== 'string' || isIP(a) === 0)) {
    throw new Error(`${HOSTS_OVERRIDE_ENV}=${file}: "${host}" must map to an array of IP addresses`);
  }
  return entry as string[];
}

/** The resolver the runtimes use: the override file, then the system resolver (search domains included). */
export function systemResolver(env: NodeJS.ProcessEnv = process.env): Resolver {
  return async (host) => {
    if (isIP(host) !== 0) return [host];
    const listed = overriddenAddresses(host, env);
    if (listed) return listed;
    try {
      const answers = await lookup(host, { all: true, verbatim: true });
      return [...new Set(answers.map((a) => a.address))].sort();
    } catch (err) {
      if (EMPTY_ANSWER.has((err as { code?: string }).code ?? '')) return [];
      return undefined;
    }
  };
}

/**
 * The system resolver, except for the names the hosts override file lists
 * (`SURGEGUARD_HOSTS_FILE`), which connect to the first address listed: the `lookup` of
 * every connection the runtimes open by name (upstream pools, forwarded job requests).
 */
export function overridableLookup(env: NodeJS.ProcessEnv): LookupFunction {
  return (hostname, options, callback) => {
    let listed: readonly string[] | undefined;
    try {
      listed = overriddenAddresses(hostname, env);
    } catch (err) {
      return callback(err as NodeJS.ErrnoException, '', 4);
    }
    if (!listed || listed.length === 0) return dnsLookup(hostname, options, callback);
    const address = listed[0];
    const family = isIP(address);
    if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    return callback(null, address, family);
  };
}
