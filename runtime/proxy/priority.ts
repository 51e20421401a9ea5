import { IncomingHttpHeaders } from 'node:http';
import { PRIORITY_CLASSES, PriorityClass, isPriorityClass, priorityRank } from '../../contract/priority';

export type ClassifyResult =
  | {
      readonly ok: true;
      readonly priorityClass: PriorityClass;
      /** The class the headers asked for, when it was above `maxClass` and lowered. */
      readonly lowered?: PriorityClass;
    }
  | { readonly ok: false; readonly message: string };

/**
 * The priority class of a request: `X-Priority: <class>` if present, else `X-Realtime: true`
 * means critical, else the API key's tier (or the anonymous tier when auth is none). A header may
 * lower the class but never raise it above `maxClass` (the key's config; default its tier): a
 * higher ask is served at `maxClass` and reported in `lowered`. An unknown X-Priority value is an
 * error rather than silently ignored.
 */
export function classifyRequest(headers: IncomingHttpHeaders, tier: PriorityClass, maxClass: PriorityClass = tier): ClassifyResult {
  const explicit = headers['x-priority'];
  let asked: PriorityClass | undefined;
  if (explicit !== undefined) {
    const value = (Array.isArray(explicit) ? explicit[0] : explicit).trim().toLowerCase();
    if (!isPriorityClass(value)) return { ok: false, message: `X-Priority must be one of ${PRIORITY_CLASSES.join(', ')}; got "${value}".` };
    asked = value;
  } else {
    const realtime = headers['x-realtime'];
    if (realtime !== undefined && (Array.isArray(realtime) ? realtime[0] : realtime).trim().toLowerCase() === 'true') asked = 'critical';
  }
  if (asked === undefined) return { ok: true, priorityClass: tier };
  if (priorityRank(asked) < priorityRank(maxClass)) return { ok: true, priorityClass: maxClass, lowered: asked };
  return { ok: true, priorityClass: asked };
}
