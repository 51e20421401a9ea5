import { dev } from './dev';
import { prod } from './prod';
import { staging } from './staging';
import { EnvironmentConfig } from './types';
import { validateEnvironment } from './validate';

export * from './types';
export { EnvironmentConfigError, validateEnvironment, parseCidr, KNOWN_REGIONS } from './validate';

/** Every environment, by name. Add a new one here (see README, "Adding an environment"). */
export const ENVIRONMENTS: Readonly<Record<string, EnvironmentConfig>> = { dev, staging, prod };

/** The environment `npm run synth` builds when SURGEGUARD_ENV is not set. */
export const DEFAULT_ENVIRONMENT = 'dev';

/**
 * Resolves SURGEGUARD_ENV (`dev`, `staging`, `prod`, or `all`) to validated configs.
 * Throws naming the unknown environment.
 */
export function selectEnvironments(selector: string = DEFAULT_ENVIRONMENT): EnvironmentConfig[] {
  if (selector === 'all') return Object.values(ENVIRONMENTS).map(validateEnvironment);
  const config = ENVIRONMENTS[selector];
  if (!config) {
    throw new Error(`SURGEGUARD_ENV: unknown environment "${selector}" (known: ${Object.keys(ENVIRONMENTS).join(', ')}, all)`);
  }
  return [validateEnvironment(config)];
}
