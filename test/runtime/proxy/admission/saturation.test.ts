import { request } from 'undici';
import { systemClock } from '../../../../runtime/common/clock';
import { SaturationScraper } from '../../../../runtime/proxy/admission/saturation';
import type { SaturationSignal } from '../../../../runtime/proxy/admission/limiter';
import { startSimulator, type Simulator } from '../../../../runtime/simulator/simulator';

jest.setTimeout(20_000);

describe('SaturationScraper against vLLM-style /metrics', () => {
  const sims: Simulator[] = [];
  afterAll(async () => {
    await Promise.all(sims.map((s) => s.close()));
  });

  it('sums waiting requests over the pool and skips targets that do not answer', async () => {
    const a = await startSimulator({ name: 'a', slots: 1, tokensPerSecond: 4, outputTokens: 4 });
    const b = await startSimulator({ name: 'b', slots: 1, tokensPerSecond: 4, outputTokens: 4 });
    sims.push(a, b);
    const body = JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: 'x' }] });
    const send = (url: string) =>
      request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.body.dump());
    // a: one running, two waiting; b: one running, one waiting.
    const inflight = [send(a.url), send(a.url), send(a.url), send(b.url), send(b.url)];
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
