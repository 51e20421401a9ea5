import { request } from 'undici';
import { systemClock } from '../../../../runtime/common/clock';
import { SaturationScraper } from '../../../../runtime/proxy/admission/saturation';
import type { SaturationSignal } from '../../../../runtime/proxy/admission/limiter';
import { startSimulator } from '../../../../runtime/simulator/simulator';

// The scraper's I/O against in-process simulators on 127.0.0.1. Kept apart from saturation.test.ts
// (the pure parsing, combining and slot learning), which `npm run test:mutation` runs for every
// mutant of those decisions: this one takes seconds and checks no decision the pure tests miss.
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
