import { createHash } from 'node:crypto';
import { z } from 'zod';

/** One version of a model and the share of users it gets. */
export const CanaryTargetSchema = z.strictObject({
  pool: z.string().min(1).describe('Upstream pool that serves this version.'),
  weight: z.number().nonnegative().describe('Relative weight (the brief\'s split is 90/5/5).'),
  variant: z.string().min(1).optional().describe('Name reported in the response header and metrics. @default the pool name'),
});

/**
 * Canary split: per model, a stable hash of the user picks one of several pools by weight,
 * so a user stays on the same version across requests and replicas.
 */
export const CanaryConfigSchema = z
  .strictObject({
    /** Model name -> versions. A model not listed is not split. */
    models: z
      .record(
        z.string(),
        z
          .array(CanaryTargetSchema)
          .min(1)
          .refine((ts) => ts.some((t) => t.weight > 0), { message: 'canary: at least one target needs a positive weight' }),
      )
      .default({}),
    header: z.string().toLowerCase().default('x-surgeguard-canary').describe('Response header that reports the variant served.'),
  })
  .prefault({});

export type CanaryConfig = z.output<typeof CanaryConfigSchema>;
export type CanaryConfigInput = z.input<typeof CanaryConfigSchema>;

export interface CanaryChoice {
  readonly pool: string;
  readonly variant: string;
}

/** A user's position in [0, 1) for a model: stable across processes, independent per model. */
export function canaryPoint(model: string, user: string): number {
  const h = createHash('sha256').update(model).update('\0').update(user).digest();
  return h.readUIntBE(0, 6) / 2 ** 48;
}

export class CanaryRouter {
  private readonly cumulative = new Map<string, Array<{ upTo: number; choice: CanaryChoice }>>();

  constructor(readonly cfg: CanaryConfig) {
    for (const [model, targets] of Object.entries(cfg.models)) {
      const total = targets.reduce((s, t) => s + t.weight, 0);
      let acc = 0;
      this.cumulative.set(
        model,
        targets
          .filter((t) => t.weight > 0)
          .map((t) => {
            acc += t.weight / total;
            return { upTo: acc, choice: { pool: t.pool, variant: t.variant ?? t.pool } };
          }),
      );
    }
  }

  /** The pool for this user and model, or undefined when the model has no canary split. */
  pick(model: string, user: string): CanaryChoice | undefined {
    const table = this.cumulative.get(model);
    if (!table) return undefined;
    const p = canaryPoint(model, user);
    for (const row of table) if (p < row.upTo) return row.choice;
    return table[table.length - 1].choice;
  }
}
