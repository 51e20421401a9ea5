/** The four priority classes, highest first. Shared by proxy, worker and infrastructure. */
export const PRIORITY_CLASSES = ['critical', 'high', 'medium', 'low'] as const;

export type PriorityClass = (typeof PRIORITY_CLASSES)[number];

/**
 * Response header of a request a proxy's admission shed (`503`), naming why: `queue_full`,
 * `evicted`, `deadline`, `timeout`, `aborted`, or `no_capacity` (no model server serves there).
 * A proxy that spills to another region's proxies reads it: every reason but `no_capacity` is
 * about that request's class, not about the region taking requests.
 */
export const SHED_HEADER = 'x-surgeguard-shed';

/** Whether a `SHED_HEADER` value says the shed was about the request's class (every reason but `no_capacity`). */
export function isClassShed(reason: unknown): boolean {
  return typeof reason === 'string' && reason !== '' && reason !== 'no_capacity';
}

/** Rank of a class: 0 is the highest (critical). */
export function priorityRank(cls: PriorityClass): number {
  return PRIORITY_CLASSES.indexOf(cls);
}

export function isPriorityClass(value: unknown): value is PriorityClass {
  return typeof value === 'string' && (PRIORITY_CLASSES as readonly string[]).includes(value);
}
