import type { JobEndpoint } from '../jobs/model';
import type { ModelClient } from './model-client';
import type { ModelOutcome } from './outcome';

/**
 * Optional micro-batching (brief: up to 32 requests or 100 ms): `/v1/completions` jobs with a
 * single string prompt and `/v1/embeddings` jobs with a single string input, whose other
 * parameters are identical, are sent as one upstream request with an array prompt / input, and
 * the answer is split back per job by choice / data index. Everything else goes straight
 * through. Off by default: continuous-batching servers (vLLM) batch better on their own; this
 * is for upstreams that charge or queue per request.
 *
 * A batch fills only as far as the worker's concurrency lets jobs run at once, so set
 * `concurrency` at least to `maxBatchSize` when batching.
 */
export interface BatchingOptions {
  readonly maxBatchSize: number;
  readonly maxWaitMs: number;
}

interface Pending {
  readonly jobId: string;
  readonly item: string;
  readonly signal: AbortSignal;
  readonly resolve: (outcome: ModelOutcome) => void;
}

interface Batch {
  readonly endpoint: JobEndpoint;
  readonly request: Readonly<Record<string, unknown>>;
  readonly field: 'prompt' | 'input';
  readonly items: Pending[];
  timer?: NodeJS.Timeout;
}

/** The field a request can be batched on, or undefined when it cannot. */
export function batchField(endpoint: JobEndpoint, request: Readonly<Record<string, unknown>>): 'prompt' | 'input' | undefined {
  if (request.stream === true) return undefined;
  if (endpoint === '/v1/completions' && typeof request.prompt === 'string' && (request.n === undefined || request.n === 1) && request.best_of === undefined) {
    return 'prompt';
  }
  if (endpoint === '/v1/embeddings' && typeof request.input === 'string') return 'input';
  return undefined;
}

/** Requests that may share a batch have the same key: endpoint plus every other parameter. */
export function batchKey(endpoint: JobEndpoint, request: Readonly<Record<string, unknown>>, field: 'prompt' | 'input'): string {
  const rest = Object.keys(request)
    .filter((k) => k !== field)
    .sort()
    .map((k) => [k, request[k]]);
  return `${endpoint} ${JSON.stringify(rest)}`;
}

/** The part of a batched answer that belongs to item `index`, re-indexed to 0. */
export function splitAnswer(body: unknown, field: 'prompt' | 'input', index: number): unknown {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const listName = field === 'prompt' ? 'choices' : 'data';
  const list = record[listName];
  if (!Array.isArray(list)) return undefined;
  const mine = list.filter((entry) => (entry as { index?: unknown })?.index === index);
  if (mine.length === 0) return undefined;
  const { usage: _usage, ...rest } = record;
  void _usage; // usage covers the whole batch; it cannot be split per item honestly
  return { ...rest, [listName]: mine.map((entry) => ({ ...(entry as object), index: 0 })) };
}

export class BatchingModelClient implements ModelClient {
  private readonly batches = new Map<string, Batch>();
  private seq = 0;

  constructor(
    private readonly inner: ModelClient,
    private readonly options: BatchingOptions,
  ) {
    if (options.maxBatchSize < 2) throw new Error(`BatchingModelClient: maxBatchSize must be at least 2, got ${options.maxBatchSize}`);
  }

  call(jobId: string, endpoint: JobEndpoint, request: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<ModelOutcome> {
    const field = batchField(endpoint, request);
    if (!field) return this.inner.call(jobId, endpoint, request, signal);
    const key = batchKey(endpoint, request, field);
    return new Promise((resolve) => {
      let batch = this.batches.get(key);
      if (!batch) {
        batch = { endpoint, request, field, items: [] };
        this.batches.set(key, batch);
        const created = batch;
        batch.timer = setTimeout(() => this.flush(key, created), this.options.maxWaitMs);
      }
      batch.items.push({ jobId, item: request[field] as string, signal, resolve });
      if (batch.items.length >= this.options.maxBatchSize) this.flush(key, batch);
    });
  }

  close(): Promise<void> {
    for (const [key, batch] of this.batches) this.flush(key, batch);
    return this.inner.close();
  }

  private flush(key: string, batch: Batch): void {
    if (this.batches.get(key) !== batch) return;
    this.batches.delete(key);
    clearTimeout(batch.timer);
    void this.send(batch);
  }

  private async send(batch: Batch): Promise<void> {
    const { items, field } = batch;
    if (items.length === 1) {
      const only = items[0]!;
      only.resolve(await this.inner.call(only.jobId, batch.endpoint, batch.request, only.signal));
      return;
    }
    // The batch is abandoned only when every job in it was interrupted.
    const controller = new AbortController();
    let aborted = 0;
    for (const p of items) {
      const onAbort = (): void => {
        if (++aborted === items.length) controller.abort();
      };
      if (p.signal.aborted) onAbort();
      else p.signal.addEventListener('abort', onAbort, { once: true });
    }
    const request = { ...batch.request, [field]: items.map((p) => p.item) };
    const batchId = `batch-${++this.seq}-${items[0]!.jobId}`;
    const outcome = await this.inner.call(batchId, batch.endpoint, request, controller.signal);
    items.forEach((p, index) => {
      if (outcome.kind !== 'success') return p.resolve(outcome);
      const body = splitAnswer(outcome.body, field, index);
      p.resolve(
        body === undefined
          ? { kind: 'transient', reason: `batched answer has no ${field === 'prompt' ? 'choice' : 'embedding'} for item ${index}` }
          : { kind: 'success', status: outcome.status, body },
      );
    });
  }
}
