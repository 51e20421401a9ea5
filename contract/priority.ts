/** The four priority classes, highest first. Shared by proxy, worker and infrastructure. */
export const PRIORITY_CLASSES = ['critical', 'high', 'medium', 'low'] as const;

export type PriorityClass = (typeof PRIORITY_CLASSES)[number];

/** Rank of a class: 0 is the highest (critical). */
export function priorityRank(cls: PriorityClass): number {
  return PRIORITY_CLASSES.indexOf(cls);
}

export function isPriorityClass(value: unknown): value is PriorityClass {
  return typeof value === 'string' && (PRIORITY_CLASSES as readonly string[]).includes(value);
}
