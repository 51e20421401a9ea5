import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { FakeClock } from '../../../../runtime/common/clock';
import { PoolSchema } from '../../../../runtime/common/config/upstream';
import { UpstreamPool } from '../../../../runtime/common/upstream/upstream-pool';
import type { AdmissionConfigInput } from '../../../../runtime/proxy/admission/config';
import { OverloadControl } from '../../../../runtime/proxy/overload/control';
import { OverloadConfigSchema } from '../../../../runtime/proxy/overload/config';
import { OVERLOAD_METRICS } from '../../../../contract/metrics';
import { eventually, metricValue, silentLogger, type PoolInput } from '../../../support/proxy-harness';
import { freePort } from '../../../support/services';

// The proxy saying which scraped members cannot make their capacity known: its scraper against
// real /metrics endpoints on 127.0.0.1, scrape rounds driven by a fake clock (the default 1 s
// interval: 31 rounds take well under a second of real time), its warning read from its log and
// its count from its Prometheus registry.
jest.setTimeout(30_000);

type Answer = 'vllm' | 'tgi' | 'not-found';

/** A member's /metrics: vLLM's gauges, another server's (text-generation-inference), or none (404). */
class MetricsEndpoint {
  answer: Answer;
  scrapes = 0;
  private server: Server | undefined;
  url = '';

  constructor(answer: Answer) {
    this.answer = answer;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.scrapes++;
      if (this.answer === 'not-found') res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      else if (this.answer === 'tgi') res.writeHead(200, { 'content-type': 'text/plain' }).end('# TYPE tgi_queue_size gauge\ntgi_queue_size 3\ntgi_batch_current_size 8\n');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('vllm:num_requests_running{model_name="m"} 2\nvllm:num_requests_waiting{model_name="m"} 0\n');
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

interface Log {
  level: number;
  msg: string;
  pool?: string;
  upstream?: string;
  answered?: string;
  fix?: string;
}

const WARN = 40;
const GAUGE = OVERLOAD_METRICS.membersWithoutCapacityGauges;
const SILENT_MSG = /does not make its capacity known/;

/** Overload control over the given pools on a fake clock, started; `round()` runs one scrape round of every pool. */
async function proxyOver(pools: Record<string, PoolInput>, admission: { defaults?: AdmissionConfigInput; pools?: Record<string, AdmissionConfigInput> } = {}) {
  const clock = new FakeClock(1_000_000);
  const lines: string[] = [];
  const upstreamPools = new Map(
    Object.entries(pools).map(([name, p]) => [name, new UpstreamPool(name, PoolSchema.parse({ health: { enabled: false }, ...p }), { clock, random: () => 0.5, env: {} })]),
  );
  const registry = new Registry();
  // a scrape timeout is real time (undici's): generous, so that a busy machine's slow answer is
  // not taken for no answer (which the watch does not count); the default 1 s interval is kept
  const patient = (c: AdmissionConfigInput = {}): AdmissionConfigInput => ({ ...c, saturation: { timeoutMs: 10_000, ...c.saturation } });
  const config = OverloadConfigSchema.parse({
    admission: { defaults: patient(admission.defaults), pools: Object.fromEntries(Object.entries(admission.pools ?? {}).map(([n, c]) => [n, patient(c)])) },
  });
  const overload = new OverloadControl({ config, pools: upstreamPools, registry, logger: silentLogger(lines), clock });
  overload.start();
  // one scrape timer per scraped pool, pending between rounds; none fires before the clock moves
  const atRest = clock.pendingTimers;
  const logs = () => lines.map((l) => JSON.parse(l) as Log);
  return {
    pools: upstreamPools,
    /** Moves the clock one scrape interval (the default 1 s) and waits for the round to end (each scraper re-armed). */
    async round(times = 1): Promise<void> {
      for (let i = 0; i < times; i++) {
        clock.advance(1_000);
        await eventually(() => clock.pendingTimers === atRest, 15_000, () => `a scrape round to end (${clock.pendingTimers} of ${atRest} timers re-armed)`);
      }
    },
    warnings: () => logs().filter((l) => l.level === WARN && SILENT_MSG.test(l.msg)),
    logs,
    gauge: async (pool: string) => metricValue(await registry.metrics(), GAUGE, { pool }),
    stop: () => overload.stop(),
  };
}

describe('a scraped pool whose members do not make their capacity known', () => {
  const endpoints: MetricsEndpoint[] = [];
  let stop: (() => void) | undefined;
  const endpoint = async (answer: Answer) => {
    const e = await new MetricsEndpoint(answer).start();
    endpoints.push(e);
    return e;
  };
  afterEach(async () => {
    stop?.();
    stop = undefined;
    await Promise.all(endpoints.splice(0).map((e) => e.close()));
  });

  it('logs one warning per member after 30 s of answers without vLLM\'s gauges, naming the pool, the member and the fix, and counts it', async () => {
    const tgi = await endpoint('tgi');
    const p = await proxyOver({ hosted: { upstreams: [{ url: tgi.url, name: 'tgi-0' }] } });
    stop = p.stop;
    expect(await p.gauge('hosted')).toBe(0);
    // the first answer at 1 s; 30 rounds later (at 30 s) only 29 s have passed since it
    await p.round(30);
    expect(tgi.scrapes).toBe(30);
    expect(p.warnings()).toEqual([]);
    expect(await p.gauge('hosted')).toBe(0);
    await p.round();
    expect(p.warnings()).toEqual([
      expect.objectContaining({
        pool: 'hosted',
        upstream: 'tgi-0',
        answered: 'no vllm:num_requests_running, no vllm:num_requests_waiting',
        fix: 'declare pools.hosted.upstreams[].slots (the requests the server runs at once), or set admission.pools.hosted.saturation.enabled: false with admission.pools.hosted.adaptive.initial near its capacity',
      }),
    ]);
    expect(await p.gauge('hosted')).toBe(1);
    // once, not per scrape
    await p.round(10);
    expect(p.warnings()).toHaveLength(1);
    expect(await p.gauge('hosted')).toBe(1);
    // its limit is still the slow start's: nothing made the capacity known
    expect(p.pools.get('hosted')!.capacity().known).toBe(false);
  });

  it('counts a member answering 404 on /metrics (a server without it) and says so', async () => {
    const none = await endpoint('not-found');
    const vllm = await endpoint('vllm');
    const p = await proxyOver({
      mixed: {
        upstreams: [
          { url: none.url, name: 'no-metrics' },
          { url: vllm.url, name: 'vllm-0' },
        ],
      },
    });
    stop = p.stop;
    await p.round(31);
    expect(p.warnings()).toEqual([expect.objectContaining({ pool: 'mixed', upstream: 'no-metrics', answered: 'HTTP 404' })]);
    expect(await p.gauge('mixed')).toBe(1);
  });

  it('counts every silent member of the pool, and clears a member that exports the gauges later', async () => {
    const a = await endpoint('tgi');
    const b = await endpoint('not-found');
    const p = await proxyOver({
      pods: {
        upstreams: [
          { url: a.url, name: 'a' },
          { url: b.url, name: 'b' },
        ],
      },
    });
    stop = p.stop;
    await p.round(31);
    expect(p.warnings().map((w) => w.upstream).sort()).toEqual(['a', 'b']);
    expect(await p.gauge('pods')).toBe(2);
    // a is replaced by a vLLM server behind the same address
    a.answer = 'vllm';
    await p.round();
    expect(await p.gauge('pods')).toBe(1);
    expect(p.logs().filter((l) => /exports vLLM running\/waiting gauges now/.test(l.msg))).toEqual([expect.objectContaining({ pool: 'pods', upstream: 'a' })]);
    b.answer = 'vllm';
    await p.round();
    expect(await p.gauge('pods')).toBe(0);
    expect(p.warnings()).toHaveLength(2);
  });

  it('says nothing of members whose slots are declared, nor of a pool that is not scraped', async () => {
    const declared = await endpoint('tgi');
    const unscraped = await endpoint('tgi');
    const p = await proxyOver(
      {
        declared: { upstreams: [{ url: declared.url, name: 'declared', slots: 16 }] },
        region: { upstreams: [{ url: unscraped.url, name: 'region' }] },
      },
      { pools: { region: { saturation: { enabled: false } } } },
    );
    stop = p.stop;
    await p.round(40);
    // still scraped (its figures feed the saturation signal), never reported
    expect(declared.scrapes).toBe(40);
    expect(unscraped.scrapes).toBe(0);
    expect(p.warnings()).toEqual([]);
    expect(await p.gauge('declared')).toBe(0);
    // a pool that is not scraped has no series: nothing is known of its members' /metrics
    expect(await p.gauge('region')).toBeUndefined();
  });

  it('says nothing of a member whose /metrics does not answer at all: a health matter', async () => {
    const port = await freePort();
    const p = await proxyOver({ down: { upstreams: [{ url: `http://127.0.0.1:${port}`, name: 'down' }] } });
    stop = p.stop;
    await p.round(40);
    expect(p.warnings()).toEqual([]);
    expect(await p.gauge('down')).toBe(0);
  });

  it('no longer counts a discovered member once discovery drops it', async () => {
    const tgi = await endpoint('tgi');
    const port = new URL(tgi.url).port;
    const p = await proxyOver({ discovered: { discover: [{ url: `http://localhost:${port}`, intervalMs: 1_000 }] } });
    stop = p.stop;
    const pool = p.pools.get('discovered')!;
    pool.setDiscovered(0, ['127.0.0.1']);
    await p.round(31);
    expect(p.warnings()).toEqual([
      expect.objectContaining({ upstream: `127.0.0.1:${port}`, fix: expect.stringMatching(/^declare pools\.discovered\.discover\[\]\.slots /) }),
    ]);
    expect(await p.gauge('discovered')).toBe(1);
    pool.setDiscovered(0, []);
    expect(await p.gauge('discovered')).toBe(0);
  });
});
