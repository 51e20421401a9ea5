import { appendFileSync } from 'node:fs';
import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { MODEL_SERVER_CONTRACT } from '../../contract/service';
import { RandomSource, seededRandom } from '../common/clock';

/**
 * An OpenAI-compatible model server simulator with a known capacity, for tests, benchmarks and
 * the local demo. It behaves like a vLLM instance where it matters to a gateway: `slots`
 * requests generate at once, further ones wait in a bounded queue (then 503), tokens come at a
 * fixed rate, SSE streams honour backpressure, a client that disconnects frees its slot at once,
 * and `/metrics` exposes vLLM's gauges. Failures can be injected and forced at run time.
 */
export interface SimulatorBehaviour {
  /** Requests generating at once (GPU slots). @default 8 */
  slots: number;
  /** Requests waiting for a slot; when full, new ones get 503. @default 64 */
  queueSize: number;
  /** Longest wait for a slot before 503. @default 30000 */
  queueTimeoutMs: number;
  /** Output tokens per second per request; 0 = all at once. @default 50 */
  tokensPerSecond: number;
  /** Output tokens when the request has no max_tokens (capped by maxTokens). @default 16 */
  outputTokens: number;
  /** Cap of output tokens. @default 512 */
  maxTokens: number;
  /** Added delay before the first token (prefill), ms. @default 0 */
  latencyMs: number;
  /** Share of requests answered with 500 (0..1). @default 0 */
  failureRate: number;
  /** Share of streams cut off after the first chunk (socket destroyed). @default 0 */
  midStreamFailureRate: number;
  /** When set, every model request gets this status (e.g. 503 or 429), with Retry-After if given. */
  forceStatus: { status: number; retryAfterS?: number } | undefined;
  /** /health answers 200 when true, 503 when false. @default true */
  healthy: boolean;
}

export interface SimulatorOptions extends Partial<SimulatorBehaviour> {
  /** @default 0 (a free port) */
  port?: number;
  /** @default 127.0.0.1 */
  host?: string;
  /** Returned in `x-sim-name` and the `system_fingerprint`; tells instances apart in tests. @default sim-<port> */
  name?: string;
  /** Models listed and accepted (others get 404). @default ['sim-model'] */
  models?: string[];
  /** Seed of the failure-injection PRNG. @default 1 */
  seed?: number;
  /**
   * When set, one JSON line `{"job": <x-surgeguard-job-id>, "at": <epoch ms>}` is appended to this
   * file for every model request carrying a job id that was served completely (written
   * synchronously, so the lines survive a SIGKILL): how many times each job really ran.
   */
  journalFile?: string;
}

export interface SimulatorStats {
  /** Model requests received (any outcome). */
  received: number;
  /** Model requests answered completely with 200. */
  served: number;
  /** Requests holding a slot now. */
  inFlight: number;
  /** Requests waiting for a slot now. */
  waiting: number;
  /** Requests whose client disconnected before the end (slot freed). */
  aborted: number;
  /** Requests refused because the queue was full or the wait too long. */
  rejected: number;
  /** Requests failed by injection (500, forced status, mid-stream cut). */
  failed: number;
  /** Highest number of slots in use at once. */
  peakInFlight: number;
  /** Health probes received. */
  healthChecks: number;
}

export interface Simulator {
  readonly url: string;
  readonly port: number;
  readonly name: string;
  stats(): SimulatorStats;
  /** Headers and parsed body of the last model request received (to check what a proxy forwards). */
  lastRequest(): { headers: IncomingMessage['headers']; body: Record<string, unknown> } | undefined;
  resetStats(): void;
  /** Changes behaviour at run time (also reachable as POST /sim/config). */
  configure(change: Partial<SimulatorBehaviour>): void;
  close(): Promise<void>;
}

const DEFAULTS: SimulatorBehaviour = {
  slots: 8,
  queueSize: 64,
  queueTimeoutMs: 30_000,
  tokensPerSecond: 50,
  outputTokens: 16,
  maxTokens: 512,
  latencyMs: 0,
  failureRate: 0,
  midStreamFailureRate: 0,
  forceStatus: undefined,
  healthy: true,
};

const ZERO_STATS: SimulatorStats = { received: 0, served: 0, inFlight: 0, waiting: 0, aborted: 0, rejected: 0, failed: 0, peakInFlight: 0, healthChecks: 0 };

/** Slot accounting with a FIFO wait queue. */
class Slots {
  private used = 0;
  private readonly waiters: { grant: () => void }[] = [];

  constructor(private readonly behaviour: () => SimulatorBehaviour) {}

  get inUse(): number {
    return this.used;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves true with a slot, false when refused (queue full, timed out, or cancelled). */
  acquire(cancel: AbortSignal): Promise<boolean> {
    const b = this.behaviour();
    if (this.used < b.slots) {
      this.used++;
      return Promise.resolve(true);
    }
    if (this.waiters.length >= b.queueSize) return Promise.resolve(false);
    return new Promise((resolve) => {
      const entry = {
        grant: () => {
          clearTimeout(timer);
          cancel.removeEventListener('abort', onCancel);
          this.used++;
          resolve(true);
        },
      };
      const drop = () => {
        const i = this.waiters.indexOf(entry);
        if (i >= 0) this.waiters.splice(i, 1);
        cancel.removeEventListener('abort', onCancel);
        resolve(false);
      };
      const onCancel = () => drop();
      const timer = setTimeout(drop, b.queueTimeoutMs);
      cancel.addEventListener('abort', onCancel, { once: true });
      this.waiters.push(entry);
    });
  }

  release(): void {
    this.used--;
    while (this.used < this.behaviour().slots && this.waiters.length > 0) this.waiters.shift()!.grant();
  }
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const behaviour: SimulatorBehaviour = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof SimulatorBehaviour)[]) {
    if (options[key] !== undefined) (behaviour as unknown as Record<string, unknown>)[key] = options[key];
  }
  const models = options.models ?? ['sim-model'];
  const random: RandomSource = seededRandom(options.seed ?? 1);
  const slots = new Slots(() => behaviour);
  let stats: SimulatorStats = { ...ZERO_STATS };
  let name = options.name ?? 'sim';
  let counter = 0;
  let last: { headers: IncomingMessage['headers']; body: Record<string, unknown> } | undefined;

  const server: Server = createServer({ keepAliveTimeout: 65_000, noDelay: true }, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) json(res, 500, { error: { message: 'simulator error', type: 'server_error' } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method === 'GET') {
      if (path === MODEL_SERVER_CONTRACT.healthPath) {
        stats.healthChecks++;
        return behaviour.healthy ? json(res, 200, { status: 'ok' }) : json(res, 503, { status: 'unhealthy' });
      }
      if (path === MODEL_SERVER_CONTRACT.metricsPath) return text(res, 200, vllmMetrics());
      if (path === '/sim/stats') return json(res, 200, stats);
      if (path === '/v1/models') return json(res, 200, { object: 'list', data: models.map((id) => ({ id, object: 'model', owned_by: 'simulator' })) });
    }
    if (req.method === 'POST' && path === '/sim/config') {
      const change = JSON.parse((await readBody(req)).toString('utf8') || '{}') as Partial<SimulatorBehaviour>;
      sim.configure(change);
      return json(res, 200, behaviour);
    }
    if (req.method === 'POST' && path === '/sim/reset') {
      sim.resetStats();
      return json(res, 200, stats);
    }
    if (req.method !== 'POST' || !['/v1/chat/completions', '/v1/completions', '/v1/embeddings'].includes(path)) {
      return json(res, 404, { error: { message: `no route ${req.method} ${path}`, type: 'not_found_error' } });
    }
    stats.received++;
    const raw = await readBody(req);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return json(res, 400, { error: { message: 'invalid JSON', type: 'invalid_request_error' } });
    }
    last = { headers: req.headers, body };
    if (typeof body.model !== 'string' || !models.includes(body.model)) {
      return json(res, 404, { error: { message: `model ${String(body.model)} not found`, type: 'not_found_error' } });
    }
    if (behaviour.forceStatus) {
      stats.failed++;
      const headers: Record<string, string> = behaviour.forceStatus.retryAfterS !== undefined ? { 'retry-after': String(behaviour.forceStatus.retryAfterS) } : {};
      return json(res, behaviour.forceStatus.status, { error: { message: `forced ${behaviour.forceStatus.status}`, type: 'server_error' } }, headers);
    }
    if (behaviour.failureRate > 0 && random() < behaviour.failureRate) {
      stats.failed++;
      return json(res, 500, { error: { message: 'injected failure', type: 'server_error' } });
    }

    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    stats.waiting = slots.waiting + 1;
    const granted = await slots.acquire(gone.signal);
    stats.waiting = slots.waiting;
    if (!granted) {
      if (gone.signal.aborted) {
        stats.aborted++;
        return;
      }
      stats.rejected++;
      return json(res, 503, { error: { message: 'server busy: all slots taken', type: 'server_error' } }, { 'retry-after': '1' });
    }
    stats.inFlight = slots.inUse;
    stats.peakInFlight = Math.max(stats.peakInFlight, slots.inUse);
    try {
      if (await generate(path, body, res, gone.signal)) journal(req);
    } finally {
      slots.release();
      stats.inFlight = slots.inUse;
      stats.waiting = slots.waiting;
    }
  }

  /** Answers one admitted request; true when it was served completely. */
  async function generate(path: string, body: Record<string, unknown>, res: ServerResponse, gone: AbortSignal): Promise<boolean> {
    const id = `sim-${++counter}`;
    const created = Math.floor(Date.now() / 1000);
    const model = body.model as string;
    const headers = { 'x-sim-name': name };
    try {
      if (behaviour.latencyMs > 0) await sleep(behaviour.latencyMs, undefined, { signal: gone });
      if (path === '/v1/embeddings') {
        const input = Array.isArray(body.input) ? body.input.map(String) : [String(body.input ?? '')];
        json(res, 200, {
          object: 'list',
          model,
          // encoding_format: base64 (the OpenAI Node SDK's default): little-endian float32 bytes
          data: input.map((t, index) => ({ object: 'embedding', index, embedding: body.encoding_format === 'base64' ? embedBase64(embed(t)) : embed(t) })),
          usage: { prompt_tokens: input.length, total_tokens: input.length },
        }, headers);
        stats.served++;
        return true;
      }
      const requested = typeof body.max_tokens === 'number' ? body.max_tokens : behaviour.outputTokens;
      const tokens = Math.max(1, Math.min(behaviour.maxTokens, Math.floor(requested)));
      const interval = behaviour.tokensPerSecond > 0 ? 1000 / behaviour.tokensPerSecond : 0;
      const chat = path === '/v1/chat/completions';
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
        res.flushHeaders();
        const cut = behaviour.midStreamFailureRate > 0 && random() < behaviour.midStreamFailureRate;
        for (let i = 0; i < tokens; i++) {
          if (interval > 0) await sleep(interval, undefined, { signal: gone });
          if (gone.aborted) throw new Error('aborted');
          const chunk = chat
            ? { id, object: 'chat.completion.chunk', created, model, system_fingerprint: name, choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: 'tok ' } : { content: 'tok ' }, finish_reason: null }] }
            : { id, object: 'text_completion', created, model, choices: [{ index: 0, text: 'tok ', finish_reason: null }] };
          if (cut && i === 0) {
            // let the first event reach the client, then break the connection mid-stream
            await new Promise<void>((resolve) => res.write(`data: ${JSON.stringify(chunk)}\n\n`, () => resolve()));
            await sleep(20);
            stats.failed++;
            res.destroy();
            return false;
          }
          if (!res.write(`data: ${JSON.stringify(chunk)}\n\n`)) await waitDrain(res, gone);
        }
        const last = chat
          ? { id, object: 'chat.completion.chunk', created, model, system_fingerprint: name, choices: [{ index: 0, delta: {}, finish_reason: 'length' }] }
          : { id, object: 'text_completion', created, model, choices: [{ index: 0, text: '', finish_reason: 'length' }] };
        // stream_options.include_usage: one more chunk with empty choices and the usage, as OpenAI sends it
        const options = body.stream_options as { include_usage?: unknown } | null | undefined;
        const usageChunk =
          options?.include_usage === true
            ? `data: ${JSON.stringify({ id, object: chat ? 'chat.completion.chunk' : 'text_completion', created, model, choices: [], usage: { prompt_tokens: 8, completion_tokens: tokens, total_tokens: 8 + tokens } })}\n\n`
            : '';
        res.end(`data: ${JSON.stringify(last)}\n\n${usageChunk}data: [DONE]\n\n`);
        await new Promise<void>((resolve) => (res.writableFinished ? resolve() : res.once('finish', () => resolve())));
        stats.served++;
        return true;
      }
      if (interval > 0) await sleep(interval * tokens, undefined, { signal: gone });
      const text = 'tok '.repeat(tokens);
      const usage = { prompt_tokens: 8, completion_tokens: tokens, total_tokens: 8 + tokens };
      json(
        res,
        200,
        chat
          ? { id, object: 'chat.completion', created, model, system_fingerprint: name, choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'length' }], usage }
          : { id, object: 'text_completion', created, model, choices: [{ index: 0, text, finish_reason: 'length' }], usage },
        headers,
      );
      stats.served++;
      return true;
    } catch {
      if (gone.aborted) stats.aborted++;
      if (!res.destroyed) res.destroy();
      return false;
    }
  }

  function journal(req: IncomingMessage): void {
    const job = req.headers['x-surgeguard-job-id'];
    if (!options.journalFile || typeof job !== 'string') return;
    appendFileSync(options.journalFile, `${JSON.stringify({ job, at: Date.now() })}\n`);
  }

  function vllmMetrics(): string {
    const label = `model_name="${models[0]}"`;
    return [
      '# HELP vllm:num_requests_running Number of requests currently running on GPU.',
      '# TYPE vllm:num_requests_running gauge',
      `vllm:num_requests_running{${label}} ${slots.inUse}`,
      '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
      '# TYPE vllm:num_requests_waiting gauge',
      `vllm:num_requests_waiting{${label}} ${slots.waiting}`,
      '# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.',
      '# TYPE vllm:gpu_cache_usage_perc gauge',
      `vllm:gpu_cache_usage_perc{${label}} ${Math.min(1, slots.inUse / Math.max(1, behaviour.slots))}`,
      '# HELP vllm:request_success_total Count of successfully processed requests.',
      '# TYPE vllm:request_success_total counter',
      `vllm:request_success_total{${label}} ${stats.served}`,
      '',
    ].join('\n');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  if (options.name === undefined) name = `sim-${port}`;
  const host = options.host ?? '127.0.0.1';
  const sim: Simulator = {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    name,
    stats: () => ({ ...stats, inFlight: slots.inUse, waiting: slots.waiting }),
    lastRequest: () => last,
    resetStats: () => {
      stats = { ...ZERO_STATS, inFlight: slots.inUse, waiting: slots.waiting };
    },
    configure: (change) => {
      for (const key of Object.keys(change) as (keyof SimulatorBehaviour)[]) {
        if (key in DEFAULTS) (behaviour as unknown as Record<string, unknown>)[key] = change[key];
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return sim;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function waitDrain(res: ServerResponse, gone: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      gone.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = () => {
      res.off('drain', onDrain);
      reject(new Error('aborted'));
    };
    res.once('drain', onDrain);
    gone.addEventListener('abort', onAbort, { once: true });
  });
}

/** An embedding as `encoding_format: base64` returns it: the float32 values, little-endian, base64. */
function embedBase64(values: readonly number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
  return bytes.toString('base64');
}

function embed(text: string): number[] {
  const out: number[] = [];
  let h = 2166136261;
  for (let i = 0; i < 8; i++) {
    for (let j = 0; j < text.length; j++) h = Math.imul(h ^ text.charCodeAt(j), 16777619);
    h = Math.imul(h ^ i, 16777619);
    out.push(((h >>> 0) / 4294967296) * 2 - 1);
  }
  return out;
}
