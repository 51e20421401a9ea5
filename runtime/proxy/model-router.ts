import { PRIORITY_CLASSES, type PriorityClass } from '../../contract/priority';
import { UpstreamPool } from '../common/upstream/upstream-pool';
import { RouteConfig } from './config';

/** A model and the pools that serve it, in fallback order. */
export interface ResolvedRoute {
  readonly model: string;
  readonly chain: readonly UpstreamPool[];
  /** Model name per pool where the pool knows the model under another name. */
  readonly aliases: ReadonlyMap<UpstreamPool, string>;
}

/**
 * Maps the `model` of a request to its fallback chain: the route's pools that take the request's
 * class (a route entry with `classes` is left out of the others' chains), in configuration order.
 */
export class ModelRouter {
  private readonly routes = new Map<string, Readonly<Record<PriorityClass, ResolvedRoute>>>();
  private readonly firstPools = new Map<string, Readonly<Record<PriorityClass, ResolvedRoute>>>();

  constructor(routes: readonly RouteConfig[], pools: ReadonlyMap<string, UpstreamPool>) {
    for (const r of routes) {
      const entries: { pool: UpstreamPool; classes?: readonly PriorityClass[] }[] = [];
      const aliases = new Map<UpstreamPool, string>();
      for (const entry of r.pools) {
        const name = typeof entry === 'string' ? entry : entry.pool;
        const pool = pools.get(name);
        if (!pool) throw new Error(`routes: model ${r.model} names unknown pool ${name}`);
        entries.push({ pool, classes: typeof entry === 'string' ? undefined : entry.classes });
        if (typeof entry !== 'string' && entry.model !== undefined && entry.model !== r.model) aliases.set(pool, entry.model);
      }
      const byClass = {} as Record<PriorityClass, ResolvedRoute>;
      const firstByClass = {} as Record<PriorityClass, ResolvedRoute>;
      for (const cls of PRIORITY_CLASSES) {
        // one array per class, built once: a request's route is a lookup, not a filter
        const chain = entries.filter((e) => e.classes === undefined || e.classes.includes(cls)).map((e) => e.pool);
        byClass[cls] = { model: r.model, chain, aliases };
        firstByClass[cls] = { model: r.model, chain: chain.slice(0, 1), aliases };
      }
      this.routes.set(r.model, byClass);
      this.firstPools.set(r.model, firstByClass);
    }
  }

  /**
   * The route of `model` for a request of class `cls` (default: critical, which every pool of
   * the route takes unless its entry says otherwise); with `firstPoolOnly`, its first pool alone
   * (a spilled request: no second spill).
   */
  resolve(model: string, firstPoolOnly = false, cls: PriorityClass = 'critical'): ResolvedRoute | undefined {
    return (firstPoolOnly ? this.firstPools : this.routes).get(model)?.[cls];
  }

  /** Models in configuration order (GET /v1/models). */
  models(): string[] {
    return [...this.routes.keys()];
  }
}
