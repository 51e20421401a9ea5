import { BatchingModelClient, batchField, splitAnswer } from '../../../runtime/worker/batcher';
import type { ModelClient } from '../../../runtime/worker/model-client';
import type { ModelOutcome } from '../../../runtime/worker/outcome';
import type { JobEndpoint } from '../../../runtime/jobs/model';

/** An upstream that answers array prompts like an OpenAI completions server, recording requests. */
class RecordingUpstream implements ModelClient {
  readonly requests: { jobId: string; endpoint: JobEndpoint; request: Readonly<Record<string, unknown>> }[] = [];
  answer: (request: Readonly<Record<string, unknown>>) => ModelOutcome = (request) => {
    const prompts = Array.isArray(request.prompt) ? request.prompt : [request.prompt];
    return {
      kind: 'success',
      status: 200,
      body: {
        object: 'text_completion',
        choices: prompts.map((p, index) => ({ index, text: `echo ${String(p)}`, finish_reason: 'stop' })),
        usage: { total_tokens: 10 },
      },
    };
  };
  async call(jobId: string, endpoint: JobEndpoint, request: Readonly<Record<string, unknown>>): Promise<ModelOutcome> {
    this.requests.push({ jobId, endpoint, request });
    return this.answer(request);
  }
  async close(): Promise<void> {}
}

const signal = new AbortController().signal;

describe('micro-batching', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('sends a full batch at once as one array-prompt request and splits the answer per job', async () => {
    const upstream = new RecordingUpstream();
    const client = new BatchingModelClient(upstream, { maxBatchSize: 3, maxWaitMs: 100 });
    const outcomes = await Promise.all(
      ['a', 'b', 'c'].map((p, i) => client.call(`job-${i}`, '/v1/completions', { model: 'm', prompt: p, max_tokens: 5 }, signal)),
    );
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]!.request).toEqual({ model: 'm', prompt: ['a', 'b', 'c'], max_tokens: 5 });
    expect(outcomes.map((o) => (o.kind === 'success' ? (o.body as { choices: { text: string; index: number }[] }).choices : undefined))).toEqual([
      [{ index: 0, text: 'echo a', finish_reason: 'stop' }],
      [{ index: 0, text: 'echo b', finish_reason: 'stop' }],
      [{ index: 0, text: 'echo c', finish_reason: 'stop' }],
    ]);
  });

  it('sends a partial batch when the wait time passes', async () => {
    const upstream = new RecordingUpstream();
    const client = new BatchingModelClient(upstream, { maxBatchSize: 32, maxWaitMs: 100 });
    const pending = [client.call('j1', '/v1/completions', { model: 'm', prompt: 'x' }, signal), client.call('j2', '/v1/completions', { model: 'm', prompt: 'y' }, signal)];
    jest.advanceTimersByTime(99);
    expect(upstream.requests).toHaveLength(0);
    jest.advanceTimersByTime(1);
    const outcomes = await Promise.all(pending);
    expect(upstream.requests).toHaveLength(1);
    expect(outcomes.every((o) => o.kind === 'success')).toBe(true);
  });

  it('never mixes requests whose other parameters differ, and passes chat requests straight through', async () => {
    const upstream = new RecordingUpstream();
    const client = new BatchingModelClient(upstream, { maxBatchSize: 2, maxWaitMs: 100 });
    const pending = [
      client.call('j1', '/v1/completions', { model: 'm', prompt: 'x', temperature: 0 }, signal),
      client.call('j2', '/v1/completions', { model: 'm', prompt: 'y', temperature: 1 }, signal),
    ];
    await client.call('chat', '/v1/chat/completions', { model: 'm', messages: [] }, signal);
    expect(upstream.requests.map((r) => r.jobId)).toEqual(['chat']);
    jest.advanceTimersByTime(100);
    await Promise.all(pending);
    expect(upstream.requests.map((r) => r.request.prompt)).toEqual([undefined, 'x', 'y']);
  });

  it('gives every job of a failed batch the upstream failure', async () => {
    const upstream = new RecordingUpstream();
    upstream.answer = () => ({ kind: 'transient', reason: 'upstream answered 503', status: 503 });
    const client = new BatchingModelClient(upstream, { maxBatchSize: 2, maxWaitMs: 100 });
    const outcomes = await Promise.all([
      client.call('j1', '/v1/completions', { model: 'm', prompt: 'x' }, signal),
      client.call('j2', '/v1/completions', { model: 'm', prompt: 'y' }, signal),
    ]);
    expect(outcomes).toEqual([
      { kind: 'transient', reason: 'upstream answered 503', status: 503 },
      { kind: 'transient', reason: 'upstream answered 503', status: 503 },
    ]);
  });

  it('batches only what an array request can express', () => {
    expect(batchField('/v1/completions', { prompt: 'x' })).toBe('prompt');
    expect(batchField('/v1/completions', { prompt: ['x', 'y'] })).toBeUndefined();
    expect(batchField('/v1/completions', { prompt: 'x', n: 2 })).toBeUndefined();
    expect(batchField('/v1/embeddings', { input: 'x' })).toBe('input');
    expect(batchField('/v1/chat/completions', { messages: [] })).toBeUndefined();
    expect(splitAnswer({ data: [{ index: 0, embedding: [1] }, { index: 1, embedding: [2] }] }, 'input', 1)).toEqual({ data: [{ index: 0, embedding: [2] }] });
  });
});
