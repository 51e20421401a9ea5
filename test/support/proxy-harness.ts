import { Readable, Writable } from 'node:stream';
import pino from 'pino';
import { request } from 'undici';
import { z } from 'zod';
import { FakeClock } from '../../runtime/common/clock';
import { PoolSchema } from '../../runtime/common/config/upstream';
import { ProxyConfig, ProxyConfigInput, ProxyConfigSchema } from '../../runtime/proxy/config';
import { Proxy, createProxy } from '../../runtime/proxy/server';
import { Simulator, SimulatorOptions, startSimulator } from '../../runtime/simulator/simulator';

/** Everything a proxy integration test starts, and one call to stop it all. */
export interface Harness {
  readonly proxy: Proxy;
  readonly url: string;
  readonly sims: Simulator[];
  readonly clock: FakeClock | undefined;
  close(): Promise<void>;
}

/** A logger that swallows output (tests assert on behaviour, not log lines). */
export function silentLogger(lines?: string[]): pino.Logger {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines?.push(String(chunk));
      cb();
    },
  });
  return pino({ level: 'info' }, sink);
}

/** Starts simulators, then a proxy in front of them built from `config(simUrls)`. */
export async function startHarness(
  simOptions: SimulatorOptions[],
  config: (urls: string[]) => Omit<ProxyConfigInput, 'server'> & { server?: ProxyConfigInput['server'] },
  options: { manualClock?: boolean; logLines?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<Harness> {
  const sims = await Promise.all(simOptions.map((o, i) => startSimulator({ name: `sim${i}`, tokensPerSecond: 0, outputTokens: 4, ...o })));
  const raw = config(sims.map((s) => s.url));
  const parsed: ProxyConfig = ProxyConfigSchema.parse({ ...raw, server: { host: '127.0.0.1', port: 0, ...raw.server } });
  const clock = options.manualClock ? new FakeClock(1_000_000) : undefined;
  const proxy = createProxy(parsed, { clock, logger: silentLogger(options.logLines), env: options.env ?? {}, sleep: async () => undefined });
  const { url } = await proxy.listen();
  return {
    proxy,
    url,
    sims,
    clock,
    async close() {
      await proxy.drain();
      await Promise.all(sims.map((s) => s.close()));
    },
  };
}

/** Health checks off and breaker/outlier thresholds out of the way unless a test sets them. */
export type PoolInput = z.input<typeof PoolSchema>;

export function quietPool(urls: string[], extra: Partial<PoolInput> = {}): PoolInput {
  return {
    upstreams: urls.map((url, i) => ({ url, name: `sim${i}` })),
    health: { enabled: false },
    circuitBreaker: { consecutiveFailures: 1000, minRequests: 1000 },
    outlierDetection: { consecutiveFailures: 1000 },
    ...extra,
  };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => any;
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await request(url, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}

export function chat(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'sim-model', messages: [{ role: 'user', content: 'hi' }], ...extra };
}

/** Polls `check` every 10 ms until it is true or `timeoutMs` passes (then fails loudly, naming `what`, computed then when a function: the state it ended in). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 3_000, what: string | (() => string) = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Reads a metric sample value from Prometheus text. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

export async function readAll(stream: Readable): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += String(chunk);
  return out;
}
