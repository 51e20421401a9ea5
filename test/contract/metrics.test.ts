import { Registry } from 'prom-client';
import { METRIC, OVERLOAD_METRICS, PROXY_METRICS, WORKER_METRICS } from '../../contract/metrics';
import { ProxyMetrics } from '../../runtime/proxy/metrics';
import { OverloadMetrics } from '../../runtime/proxy/overload/metrics';
import { WorkerMetrics } from '../../runtime/worker/metrics';

/** Names a registry exports (prom-client's own names, as /metrics shows them). */
function exported(registry: Registry): string[] {
  return registry.getMetricsAsArray().map((m) => m.name).sort();
}

describe('contract/metrics.ts', () => {
  it('lists exactly the metrics the proxy registers (request path and overload control)', () => {
    const proxy = new ProxyMetrics({ defaultMetrics: false });
    new OverloadMetrics(proxy.registry, () => new Map());
    expect(exported(proxy.registry)).toEqual([...Object.values(PROXY_METRICS), ...Object.values(OVERLOAD_METRICS)].sort());
  });

  it('lists exactly the metrics the worker registers', () => {
    const worker = new WorkerMetrics({ defaultMetrics: false });
    expect(exported(worker.registry)).toEqual(Object.values(WORKER_METRICS).sort());
  });

  it('gives monitoring only names a runtime exports', () => {
    const all = new Set<string>([...Object.values(PROXY_METRICS), ...Object.values(OVERLOAD_METRICS), ...Object.values(WORKER_METRICS)]);
    for (const name of Object.values(METRIC)) expect(all.has(name)).toBe(true);
  });

  it('never gives two metrics one name', () => {
    const names = [...Object.values(PROXY_METRICS), ...Object.values(OVERLOAD_METRICS), ...Object.values(WORKER_METRICS)];
    expect(new Set(names).size).toBe(names.length);
  });
});
