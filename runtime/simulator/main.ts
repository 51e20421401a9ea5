import { EXIT_CODE } from '../common/config/exit-codes';
import { SimulatorOptions, startSimulator } from './simulator';

/**
 * CLI: node dist/runtime/simulator/main.js --port 8000 --slots 8 --queue 64 --tps 50 --tokens 16
 *        --latency-ms 0 --failure-rate 0 --models sim-model,other --name gpu-a [--journal served.jsonl]
 * Prints one JSON line {"url": ...} when listening; SIGTERM/SIGINT close it.
 */
const FLAGS: Record<string, (o: SimulatorOptions, v: string) => void> = {
  '--port': (o, v) => (o.port = int(v, '--port')),
  '--host': (o, v) => (o.host = v),
  '--name': (o, v) => (o.name = v),
  '--models': (o, v) => (o.models = v.split(',').filter(Boolean)),
  '--slots': (o, v) => (o.slots = int(v, '--slots')),
  '--queue': (o, v) => (o.queueSize = int(v, '--queue')),
  '--queue-timeout-ms': (o, v) => (o.queueTimeoutMs = int(v, '--queue-timeout-ms')),
  '--tps': (o, v) => (o.tokensPerSecond = num(v, '--tps')),
  '--tokens': (o, v) => (o.outputTokens = int(v, '--tokens')),
  '--latency-ms': (o, v) => (o.latencyMs = num(v, '--latency-ms')),
  '--failure-rate': (o, v) => (o.failureRate = num(v, '--failure-rate')),
  '--seed': (o, v) => (o.seed = int(v, '--seed')),
  '--journal': (o, v) => (o.journalFile = v),
};

function num(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a non-negative number, got "${v}"`);
  return n;
}

function int(v: string, flag: string): number {
  const n = num(v, flag);
  if (!Number.isInteger(n)) throw new Error(`${flag} needs an integer, got "${v}"`);
  return n;
}

export function parseSimulatorArgs(argv: readonly string[]): SimulatorOptions {
  const options: SimulatorOptions = { port: 8000 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const set = FLAGS[flag];
    if (!set) throw new Error(`unknown option ${flag}; known: ${Object.keys(FLAGS).join(' ')}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    set(options, value);
  }
  return options;
}

async function main(): Promise<void> {
  let options: SimulatorOptions;
  try {
    options = parseSimulatorArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`simulator: ${(err as Error).message}\n`);
    process.exit(EXIT_CODE.invalidConfig);
  }
  const sim = await startSimulator(options);
  process.stdout.write(`${JSON.stringify({ url: sim.url, name: sim.name })}\n`);
  const stop = () => void sim.close().then(() => process.exit(EXIT_CODE.ok));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`simulator failed: ${err.stack ?? err.message}\n`);
    process.exit(EXIT_CODE.failed);
  });
}
