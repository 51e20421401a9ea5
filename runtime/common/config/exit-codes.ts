import { ConfigError } from './load';
import { SecretResolutionError } from './secrets';

/**
 * Exit statuses of the runtime processes (proxy, worker, simulator), one convention for all:
 * 2 when the process was started wrong (no config, an invalid config, a secret variable it names
 * is unset; like a command-line tool's usage error: restarting will not help, fixing the config
 * will), 1 when it failed while running, 0 after a graceful drain, 3 when the proxy's drain
 * timed out and cut running requests (the orchestrator sees that requests were cut).
 */
export const EXIT_CODE = {
  ok: 0,
  failed: 1,
  invalidConfig: 2,
  drainTimedOut: 3,
} as const;

/** Whether a start-up error is the configuration's fault (exit with {@link EXIT_CODE.invalidConfig}). */
export function isConfigError(err: unknown): err is ConfigError | SecretResolutionError {
  return err instanceof ConfigError || err instanceof SecretResolutionError;
}
