import { z } from 'zod';

/**
 * A secret in the config file: either a literal string (fine for local use) or a reference to
 * an environment variable, `{ fromEnv: "DEEPSEEK_API_KEY" }`, so real keys never live in files.
 */
export const SecretRefSchema = z.union([
  z.string().min(1).describe('Literal secret value (avoid outside local development).'),
  z
    .object({
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
  ) {
    super(`${path}: environment variable ${variable} is not set`);
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
