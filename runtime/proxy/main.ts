import { EXIT_CODE, isConfigError } from '../common/config/exit-codes';
import { loadConfigFile } from '../common/config/load';
import { ProxyConfigSchema } from './config';
import { createProxy } from './server';

/**
 * Entry point: `node dist/runtime/proxy/main.js --config <file>` (or SURGEGUARD_CONFIG=<file>).
 * An invalid config exits with status 2 (EXIT_CODE.invalidConfig) before anything listens,
 * naming each field at fault. SIGTERM / SIGINT drain gracefully and exit 0, or 3
 * (EXIT_CODE.drainTimedOut) when requests were still running at drainTimeoutMs and were cut
 * (streams end with an SSE error event first).
 */

function configPath(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('--config');
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith('--config='));
  return eq ? eq.slice('--config='.length) : process.env.SURGEGUARD_CONFIG;
}

async function main(): Promise<void> {
  const file = configPath(process.argv.slice(2));
  if (!file) {
    process.stderr.write('usage: node dist/runtime/proxy/main.js --config <file.yaml|file.json>  (or SURGEGUARD_CONFIG=<file>)\n');
    process.exit(EXIT_CODE.invalidConfig);
  }
  let proxy;
  try {
    const config = loadConfigFile(ProxyConfigSchema, file);
    proxy = createProxy(config);
  } catch (err) {
    if (isConfigError(err)) {
      process.stderr.write(`${err.message}\n`);
      process.exit(EXIT_CODE.invalidConfig);
    }
    throw err;
  }
  await proxy.listen();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    proxy.logger.info({ signal }, 'shutdown requested');
    void proxy.drain().then((finished) => proxy.logger.flush(() => process.exit(finished ? EXIT_CODE.ok : EXIT_CODE.drainTimedOut)));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: Error) => {
  process.stderr.write(`proxy failed to start: ${err.stack ?? err.message}\n`);
  process.exit(EXIT_CODE.failed);
});
