import { createHash } from 'node:crypto';
import { z } from 'zod';
import { REGION_NAME_PATTERN, homeRegionOf } from '../jobs/model';
import type { PoolConfig } from '../common/config/upstream';

/**
 * The environment's regions as one proxy sees them: its own name and every other region's
 * regional endpoint. Pure decisions only (which pools make this region ready, where a job lives,
 * which region registers an Idempotency-Key); the forwarding I/O is in region-forwarder.ts.
 */

const regionName = z.string().regex(REGION_NAME_PATTERN, 'a region name: lower-case letters, digits and -, starting with a letter');

export const RegionsSchema = z
  .strictObject({
    self: regionName.describe('This region\'s name: new job ids carry it, and only pools with an upstream of this region make the proxy ready.'),
    peers: z
      .record(
        regionName,
        z.strictObject({
          url: z.url({ protocol: /^https?$/ }).describe('Regional endpoint of that region (https://<region>.<domain>), not the global name.'),
        }),
      )
      .default({})
      .describe('The other regions of the environment and their regional endpoints: job polls and keyed submissions are forwarded there.'),
    forwardTimeoutMs: z.number().int().positive().default(5_000).describe('Longest wait for a forwarded job request before the home region counts as unavailable.'),
    retryAfterSeconds: z.number().int().positive().default(10).describe('Retry-After of the 503 answered while a job\'s home region is unavailable.'),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.self in r.peers) ctx.addIssue({ code: 'custom', path: ['peers', r.self], message: `"${r.self}" is this region (self), not a peer` });
  })
  .describe('Multi-region: this region and its peers (region-aware job ids, forwarded polls, cross-region Idempotency-Key, region readiness).');

export type RegionsConfig = z.infer<typeof RegionsSchema>;


/**
 * Pools whose health makes this region ready: those with a member (listed or discovered) of
 * region `self`. Spill pools to other regions and external providers do not: a region whose own
 * model servers are gone must leave the global load balancers, even though it could still spill.
 * Without a `regions` config every pool counts (single region).
 */
export function readinessPools(pools: Readonly<Record<string, PoolConfig>>, regions: RegionsConfig | undefined): string[] {
  const names = Object.keys(pools);
  if (!regions) return names;
  return names.filter((n) => [...pools[n]!.upstreams, ...pools[n]!.discover].some((u) => u.region === regions.self));
}

/** Where a job request is answered. */
export type JobRouting =
  | { readonly kind: 'local' }
  | { readonly kind: 'forward'; readonly region: string; readonly url: string }
  /** An id naming a region this environment does not have: no such job. */
  | { readonly kind: 'unknown-region'; readonly region: string };

/**
 * Where `GET`/`DELETE /v1/jobs/{id}` is answered: here when the id names this region (or none),
 * at the home region's endpoint otherwise. A request already forwarded by a peer is answered here
 * whatever it names (no forwarding loops).
 */
export function routeJob(id: string, regions: RegionsConfig | undefined, forwarded: boolean): JobRouting {
  const home = homeRegionOf(id);
  if (home === undefined || !regions || home === regions.self || forwarded) return { kind: 'local' };
  const peer = regions.peers[home];
  return peer ? { kind: 'forward', region: home, url: peer.url } : { kind: 'unknown-region', region: home };
}

/**
 * The region that registers an Idempotency-Key (and runs its job): rendezvous hashing of the
 * owner and the key's hash over every region, so every region picks the same one without asking
 * the others, and losing a region moves no other key. A keyed submission is forwarded there.
 */
export function registrarRegion(regions: RegionsConfig, owner: string, keyHash: string): string {
  let best = regions.self;
  let bestScore = '';
  for (const region of [regions.self, ...Object.keys(regions.peers)].sort()) {
    const score = createHash('sha256').update(`${region}\n${owner}\n${keyHash}`).digest('hex');
    if (score > bestScore) {
      best = region;
      bestScore = score;
    }
  }
  return best;
}

/** Header a proxy sets on a request it forwards to a peer region; a request with it is answered where it lands. */
export const FORWARDED_BY_HEADER = 'x-surgeguard-forwarded-by';
