import { combineSaturation, learnSlots, readVllmMetrics, type SlotLearner } from '../../../../runtime/proxy/admission/saturation';

describe('readVllmMetrics: the figures', () => {
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
    expect(readVllmMetrics(text).figures).toEqual({ waiting: 5, running: 8, kvCacheUsage: 0.7 });
  });

  it('leaves KV-cache usage out when the server does not expose it, and ignores other metrics, comments and bad values', () => {
    const text = 'vllm:num_requests_waiting 1\nvllm:num_requests_waiting NaN\nvllm:num_requests_running +Inf\nprocess_cpu_seconds_total 9\n# vllm:num_requests_running 5\nnot a sample\n';
    expect(readVllmMetrics(text).figures).toStrictEqual({ waiting: 1, running: 0 });
  });

  it('reads samples with leading or trailing whitespace and skips indented comments (the text format ignores that whitespace)', () => {
    const text = ['  vllm:num_requests_waiting{model_name="a"} 2', '\tvllm:num_requests_running 3 ', '  # vllm:num_requests_waiting 40', '   ', 'vllm:num_requests_waiting 1\r'].join('\n');
    expect(readVllmMetrics(text).figures).toStrictEqual({ waiting: 3, running: 3 });
  });

  it('reads a value separated from the name or labels by several blanks or tabs (the text format allows any number)', () => {
    const text = 'vllm:num_requests_waiting{model_name="a"}   2\nvllm:num_requests_running\t\t5\n';
    expect(readVllmMetrics(text).figures).toStrictEqual({ waiting: 2, running: 5 });
  });

  it('reads a KV-cache usage of 0 as a figure, not as absent', () => {
    expect(readVllmMetrics('vllm:gpu_cache_usage_perc 0\n').figures).toEqual({ waiting: 0, running: 0, kvCacheUsage: 0 });
  });
});

describe('readVllmMetrics', () => {
  it('lists no capacity gauge missing when running and waiting are both exported, even at 0', () => {
    expect(readVllmMetrics('vllm:num_requests_running{model_name="a"} 0\nvllm:num_requests_waiting{model_name="a"} 0\n')).toStrictEqual({
      figures: { waiting: 0, running: 0 },
      missing: [],
    });
  });

  it('lists the capacity gauges a server without them lacks (another server, a comment naming them, a bad value)', () => {
    // text-generation-inference's own names, vLLM's only in a comment
    const tgi = '# vllm:num_requests_running 4\ntgi_queue_size 3\ntgi_batch_current_size 8\n';
    expect(readVllmMetrics(tgi).missing).toEqual(['vllm:num_requests_running', 'vllm:num_requests_waiting']);
    expect(readVllmMetrics('vllm:num_requests_waiting 1\nvllm:num_requests_running NaN\n').missing).toEqual(['vllm:num_requests_running']);
    expect(readVllmMetrics('vllm:num_requests_running 2\n').missing).toEqual(['vllm:num_requests_waiting']);
    expect(readVllmMetrics('<html>Not here</html>').missing).toEqual(['vllm:num_requests_running', 'vllm:num_requests_waiting']);
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

  it('gives no slots figure while any member\'s slots are unknown, whichever member it is', () => {
    const known = { waiting: 0, running: 4, slots: 8 };
    const unknown = { waiting: 0, running: 4 };
    for (const parts of [[known, unknown], [unknown, known], [known, unknown, known]]) {
      expect(combineSaturation(parts)).toStrictEqual({ waiting: 0, minWaiting: 0, running: parts.length * 4 });
    }
    expect(combineSaturation([known, known])).toEqual({ waiting: 0, minWaiting: 0, running: 8, slots: 16 });
  });

  it('answers zeros and no KV-cache figure for no member', () => {
    expect(combineSaturation([])).toStrictEqual({ waiting: 0, minWaiting: 0, running: 0 });
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
