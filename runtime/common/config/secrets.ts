import { z } from 'zod';

/**
 * A secret in the config file: either a literal string (fine for local use) or a reference to
 * an environment variable, `{ fromEnv: "DEEPSEEK_API_KEY" }`, so real keys never live in files.
 */
export const SecretRefSchema = z.union([
  z.string().min(1).describe('Literal secret value (avoid outside local development).'),
  z
    .strictObject({
      fromEnv: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
        .describe('Name of the environment variable holding the secret.'),
    })
    .strict(),
]);

export type SecretRef = z.infer<typeof SecretRefSchema>;

/** Raised when a referenced environment variable is missing; `path` names the config field. */
export class SecretResolutionError extends Error {
  constructor(
    readonly path: string,
    readonly variable: string,
    problem?: string,
  ) {
    super(problem === undefined ? `${path}: environment variable ${variable} is not set` : `${path}: ${problem} (from ${variable})`);
    this.name = 'SecretResolutionError';
  }
}

/** Resolves a secret reference against an environment; throws naming the field if it is unset. */
export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv, path: string): string {
  if (typeof ref === 'string') return ref;
  const value = env[ref.fromEnv];
  if (value === undefined || value === '') throw new SecretResolutionError(path, ref.fromEnv);
  return value;
}

/** Why `value` is not a URL with one of `protocols` (e.g. `['amqp:', 'amqps:']`), or undefined. */
export function urlProblem(value: string, protocols: readonly string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'Invalid URL';
  }
  if (!protocols.includes(url.protocol)) return `must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL; got ${url.protocol}//`;
  if (!url.hostname) return 'URL has no host';
  return undefined;
}

/** A secret that is a URL: a literal is checked when the config is parsed, a `fromEnv` value when it is resolved. */
export function urlSecretSchema(protocols: readonly string[]) {
  return SecretRefSchema.superRefine((ref, ctx) => {
    if (typeof ref !== 'string') return;
    const problem = urlProblem(ref, protocols);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

/** Resolves a URL secret; throws naming the field when the variable is unset or not such a URL. */
export function resolveUrlSecret(ref: SecretRef, env: NodeJS.ProcessEnv, path: string, protocols: readonly string[]): string {
  const value = resolveSecret(ref, env, path);
  const problem = urlProblem(value, protocols);
  if (problem) throw new SecretResolutionError(path, typeof ref === 'string' ? '(literal)' : ref.fromEnv, problem);
  return value;
}
