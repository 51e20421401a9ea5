import { request } from 'undici';
import { systemClock } from '../../../../runtime/common/clock';
import { SaturationScraper, combineSaturation, learnSlots, parseVllmMetrics, type SlotLearner } from '../../../../runtime/proxy/admission/saturation';
import type { SaturationSignal } from '../../../../runtime/proxy/admission/limiter';
import { startSimulator } from '../../../../runtime/simulator/simulator';

jest.setTimeout(20_000);

describe('SaturationScraper against vLLM-style /metrics', () => {
  it('sums waiting requests over the pool and skips targets that do not answer', async () => {
    const a = await startSimulator({ name: 'a', slots: 1, tokensPerSecond: 4, outputTokens: 4 });
    const b = await startSimulator({ name: 'b', slots: 1, tokensPerSecond: 4, outputTokens: 4 });
    const body = JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: 'x' }] });
    const send = (url: string) =>
      request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.body.dump());
    // a: one running, two waiting; b: one running, one waiting.
    const inflight = [send(a.url), send(a.url), send(a.url), send(b.url), send(b.url)];
    try {
      const deadline = Date.now() + 5_000;
      while (a.stats().waiting < 2 || b.stats().waiting < 1) {
        if (Date.now() > deadline) throw new Error('simulators never queued the requests');
        await new Promise((r) => setTimeout(r, 10));
      }
      const signals: SaturationSignal[] = [];
      const scraper = new SaturationScraper({
        targets: () => [`${a.url}/metrics`, `${b.url}/metrics`, 'http://127.0.0.1:9/metrics'].map((url) => ({ url })),
        intervalMs: 1_000,
        timeoutMs: 1_000,
        clock: systemClock,
        onSignal: (s) => signals.push(s),
      });
      const signal = await scraper.scrapeOnce();
      expect(signal).toMatchObject({ waiting: 3, minWaiting: 1 });
      expect(signals).toHaveLength(1);
      await Promise.all(inflight);
    } finally {
      // When an expectation fails, the requests still queued at the simulators must end within
      // this test (closed with their simulators), not reject later as unhandled in another one.
      await Promise.all([a.close(), b.close()]);
      await Promise.allSettled(inflight);
    }
  });

  it('reports nothing when no target answers', async () => {
    const scraper = new SaturationScraper({
      targets: () => [{ url: 'http://127.0.0.1:9/metrics' }],
      intervalMs: 1_000,
      timeoutMs: 500,
      clock: systemClock,
      onSignal: () => {
        throw new Error('must not be called');
      },
    });
    expect(await scraper.scrapeOnce()).toBeUndefined();
  });
});

describe('parseVllmMetrics', () => {
  it('sums waiting and running over label sets and keeps the highest KV-cache usage of either name', () => {
    const text = [
      '# HELP vllm:num_requests_waiting Number of requests waiting.',
      '# TYPE vllm:num_requests_waiting gauge',
      'vllm:num_requests_waiting{model_name="a"} 2',
      'vllm:num_requests_waiting{model_name="b"} 3.0',
      'vllm:num_requests_running{model_name="a"} 7',
      'vllm:num_requests_running 1',
      'vllm:gpu_cache_usage_perc{model_name="a"} 0.7',
      'vllm:kv_cache_usage_perc{model_name="b"} 0.4',
      '',
    ].join('\n');
    expect(parseVllmMetrics(text)).toEqual({ waiting: 5, running: 8, kvCacheUsage: 0.7 });
  });

  it('leaves KV-cache usage out when the server does not expose it, and ignores other metrics, comments and bad values', () => {
    const text = 'vllm:num_requests_waiting 1\nvllm:num_requests_waiting NaN\nvllm:num_requests_running +Inf\nprocess_cpu_seconds_total 9\n# vllm:num_requests_running 5\nnot a sample\n';
    expect(parseVllmMetrics(text)).toEqual({ waiting: 1, running: 0 });
  });

  it('reads samples with leading or trailing whitespace and skips indented comments (the text format ignores that whitespace)', () => {
    const text = ['  vllm:num_requests_waiting{model_name="a"} 2', '\tvllm:num_requests_running 3 ', '  # vllm:num_requests_waiting 40', '   ', 'vllm:num_requests_waiting 1\r'].join('\n');
    expect(parseVllmMetrics(text)).toEqual({ waiting: 3, running: 3 });
  });

  it('reads a KV-cache usage of 0 as a figure, not as absent', () => {
    expect(parseVllmMetrics('vllm:gpu_cache_usage_perc 0\n')).toEqual({ waiting: 0, running: 0, kvCacheUsage: 0 });
  });
});

describe('combineSaturation', () => {
  it('sums waiting and running, keeps the least-queued member and the worst and least KV-cache usage (none exported counts as not full)', () => {
    expect(
      combineSaturation([
        { waiting: 4, running: 8, kvCacheUsage: 0.5 },
        { waiting: 1, running: 6 },
        { waiting: 2, running: 7, kvCacheUsage: 0.9 },
      ]),
    ).toEqual({ waiting: 7, minWaiting: 1, running: 21, kvCacheUsage: 0.9, minKvCacheUsage: 0 });
    expect(combineSaturation([{ waiting: 1, running: 8, kvCacheUsage: 1, slots: 8 }, { waiting: 0, running: 5, kvCacheUsage: 0.6, slots: 8 }])).toEqual({
      waiting: 1,
      minWaiting: 0,
      running: 13,
      kvCacheUsage: 1,
      minKvCacheUsage: 0.6,
      slots: 16,
    });
  });

  it('answers zeros and no KV-cache figure for no member', () => {
    expect(combineSaturation([])).toEqual({ waiting: 0, minWaiting: 0, running: 0 });
  });
});

describe('learnSlots', () => {
  const member = (learnedSlots?: number, lastOverloadAt = -Infinity): SlotLearner => ({ learnedSlots, lastOverloadAt });

  it('learns the running count while requests wait at the member', () => {
    const m = member();
    learnSlots(m, { waiting: 1, running: 12 }, 10_000, 2_000);
    expect(m.learnedSlots).toBe(12);
  });

  it('learns while the member refused a request within the recent window, the window edge included', () => {
    const m = member(undefined, 8_000);
    learnSlots(m, { waiting: 0, running: 9 }, 10_000, 2_000);
    expect(m.learnedSlots).toBe(9);
    const late = member(undefined, 7_999);
    learnSlots(late, { waiting: 0, running: 9 }, 10_000, 2_000);
    expect(late.learnedSlots).toBeUndefined();
  });

  it('learns nothing from a member that is not full, or runs nothing', () => {
    const idle = member();
    learnSlots(idle, { waiting: 0, running: 30 }, 10_000, 2_000);
    expect(idle.learnedSlots).toBeUndefined();
    const stuck = member();
    learnSlots(stuck, { waiting: 5, running: 0 }, 10_000, 2_000);
    expect(stuck.learnedSlots).toBeUndefined();
  });

  it('keeps the highest figure: a full KV cache running fewer requests does not lower it', () => {
    const m = member(16);
    learnSlots(m, { waiting: 3, running: 10 }, 10_000, 2_000);
    expect(m.learnedSlots).toBe(16);
    learnSlots(m, { waiting: 3, running: 20 }, 10_000, 2_000);
    expect(m.learnedSlots).toBe(20);
  });
});
