import { UpstreamPool } from '../common/upstream/upstream-pool';
import { RouteConfig } from './config';

/** A model and the pools that serve it, in fallback order. */
export interface ResolvedRoute {
  readonly model: string;
  readonly chain: readonly UpstreamPool[];
  /** Model name per pool where the pool knows the model under another name. */
  readonly aliases: ReadonlyMap<UpstreamPool, string>;
}

/** Maps the `model` of a request to its fallback chain. */
export class ModelRouter {
  private readonly routes = new Map<string, ResolvedRoute>();
  private readonly firstPools = new Map<string, ResolvedRoute>();

  constructor(routes: readonly RouteConfig[], pools: ReadonlyMap<string, UpstreamPool>) {
    for (const r of routes) {
      const chain: UpstreamPool[] = [];
      const aliases = new Map<UpstreamPool, string>();
      for (const entry of r.pools) {
        const name = typeof entry === 'string' ? entry : entry.pool;
        const pool = pools.get(name);
        if (!pool) throw new Error(`routes: model ${r.model} names unknown pool ${name}`);
        chain.push(pool);
        if (typeof entry !== 'string' && entry.model !== undefined && entry.model !== r.model) aliases.set(pool, entry.model);
      }
      this.routes.set(r.model, { model: r.model, chain, aliases });
      this.firstPools.set(r.model, { model: r.model, chain: chain.slice(0, 1), aliases });
    }
  }

  /** The route of `model`; with `firstPoolOnly`, its first pool alone (a spilled request: no second spill). */
  resolve(model: string, firstPoolOnly = false): ResolvedRoute | undefined {
    return (firstPoolOnly ? this.firstPools : this.routes).get(model);
  }

  /** Models in configuration order (GET /v1/models). */
  models(): string[] {
    return [...this.routes.keys()];
  }
}
