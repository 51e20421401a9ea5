import { Counter, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from '../../../runtime/common/hot-metrics';

const BUCKETS = [0.001, 0.005, 0.01, 0.1, 1, 10];
const SAMPLES = [0, 0.0005, 0.001, 0.002, 0.005, 0.0051, 0.05, 0.5, 1, 3.25, 10, 11, 120];

/** The same metrics twice: prom-client's own classes and the hot ones, each in its registry. */
function pair() {
  const reference = new Registry();
  const hot = new Registry();
  const labelNames = ['pool', 'class'] as const;
  return {
    reference,
    hot,
    counters: [
      new Counter({ name: 'requests_total', help: 'Requests.', labelNames, registers: [reference] }),
      new HotCounter({ name: 'requests_total', help: 'Requests.', labelNames, registers: [hot] }),
    ] as const,
    histograms: [
      new Histogram({ name: 'latency_seconds', help: 'Latency "quoted" \\ help.', labelNames, buckets: BUCKETS, registers: [reference] }),
      new HotHistogram({ name: 'latency_seconds', help: 'Latency "quoted" \\ help.', labelNames, buckets: BUCKETS, registers: [hot] }),
    ] as const,
  };
}

describe('HotCounter and HotHistogram', () => {
  it('render exactly the exposition text of prom-client Counter and Histogram for the same samples', async () => {
    const { reference, hot, counters, histograms } = pair();
    const seriesLabels = [
      { pool: 'local', class: 'critical' },
      { pool: 'remote "eu"', class: 'low' },
    ];
    for (const labels of seriesLabels) {
      const counter = counters[1].labels(labels);
      const histogram = histograms[1].labels(labels);
      for (const v of SAMPLES) {
        counters[0].inc(labels);
        counter.inc();
        histograms[0].observe(labels, v);
        histogram.observe(v);
      }
      counters[0].inc(labels, 2.5);
      counter.inc(2.5);
    }
    const text = await hot.metrics();
    expect(text).toBe(await reference.metrics());
    expect(text).toContain('latency_seconds_bucket{le="0.005",pool="local",class="critical"} 5');
    expect(text).toContain('latency_seconds_bucket{le="+Inf",pool="local",class="critical"} 13');
    expect(text).toContain('requests_total{pool="remote \\"eu\\"",class="low"} 15.5');
  });

  it('give the same JSON as prom-client (labels merged; no exemplars)', async () => {
    const { reference, hot, histograms } = pair();
    histograms[0].observe({ pool: 'a', class: 'high' }, 0.02);
    histograms[1].labels({ pool: 'a', class: 'high' }).observe(0.02);
    const withoutExemplars = (await reference.getMetricsAsJSON()).map((m) => ({
      ...m,
      values: m.values.map((v) => {
        const { exemplar: _, ...rest } = v as typeof v & { exemplar?: unknown };
        return rest;
      }),
    }));
    expect(await hot.getMetricsAsJSON()).toEqual(withoutExemplars);
  });

  it('hand out one series per label set, whatever the key order', () => {
    const h = new HotHistogram({ name: 'h', help: 'h', labelNames: ['a', 'b'], buckets: [1], registers: [] });
    expect(h.labels({ a: 'x', b: 'y' })).toBe(h.labels({ b: 'y', a: 'x' }));
    expect(h.labels({ a: 'x', b: 'z' })).not.toBe(h.labels({ a: 'x', b: 'y' }));
  });

  it('refuse unknown or missing labels, bad values and bad buckets, naming them', () => {
    const c = new HotCounter({ name: 'c_total', help: 'c', labelNames: ['pool'], registers: [] });
    expect(() => c.labels({ pool: 'a', zone: 'b' } as never)).toThrow('c_total: unknown label "zone" (known: pool)');
    expect(() => c.labels({} as never)).toThrow('c_total: label "pool" needs a string value');
    expect(() => c.labels({ pool: 'a' }).inc(-1)).toThrow('counter increment must be a finite number >= 0, got -1');
    const h = new HotHistogram({ name: 'h', help: 'h', labelNames: [], buckets: [1], registers: [] });
    expect(() => h.labels({}).observe(Number.NaN)).toThrow('histogram observation must be a finite number, got NaN');
    expect(() => new HotHistogram({ name: 'bad', help: 'b', labelNames: [], buckets: [1, 1], registers: [] })).toThrow('bad: buckets must be distinct finite numbers');
  });

  it('forget their series on registry.resetMetrics(), and refuse a second metric of the same name', async () => {
    const registry = new Registry();
    const c = new HotCounter({ name: 'c_total', help: 'c', labelNames: ['pool'], registers: [registry] });
    c.labels({ pool: 'a' }).inc();
    registry.resetMetrics();
    expect(await registry.metrics()).toBe('# HELP c_total c\n# TYPE c_total counter\n');
    expect(() => new Counter({ name: 'c_total', help: 'c', registers: [registry] })).toThrow('already been registered');
  });
});
