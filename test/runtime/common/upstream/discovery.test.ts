import { systemClock } from '../../../../runtime/common/clock';
import { PoolSchema, RetrySchema } from '../../../../runtime/common/config/upstream';
import { MemberDiscovery } from '../../../../runtime/common/upstream/discovery';
import { UpstreamDispatcher } from '../../../../runtime/common/upstream/dispatcher';
import { UpstreamPool } from '../../../../runtime/common/upstream/upstream-pool';
import { Simulator, startSimulator } from '../../../../runtime/simulator/simulator';
import { eventually } from '../../../support/proxy-harness';
import { freePort } from '../../../support/services';


describe('member discovery (one member per address a name resolves to)', () => {
  const sims: Simulator[] = [];
  let pool: UpstreamPool | undefined;
  let discovery: MemberDiscovery | undefined;
  afterEach(async () => {
    discovery?.stop();
    await pool?.close();
    await Promise.all(sims.splice(0).map((s) => s.close()));
  });

  async function setUp(answer: { addresses: readonly string[] | undefined }, slots = 4) {
    const port = await freePort();
    for (const host of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) sims.push(await startSimulator({ host, port, name: host, tokensPerSecond: 20, outputTokens: 6, slots }));
    pool = new UpstreamPool('gpu', PoolSchema.parse({ discover: [{ url: `http://model-server.test:${port}`, slots }], health: { enabled: false } }), {
      clock: systemClock,
      random: Math.random,
      env: {},
    });
    const resolved: string[] = [];
    discovery = new MemberDiscovery([pool], {
      resolver: async (host) => {
        resolved.push(host);
        return answer.addresses;
      },
    });
    await discovery.start();
    const dispatcher = new UpstreamDispatcher(RetrySchema.parse({ baseBackoffMs: 0 }), { clock: systemClock, random: Math.random });
    const send = () =>
      dispatcher.dispatch({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: 'hi' }] }),
        chain: [pool!],
        deadline: Date.now() + 10_000,
      });
    return { port, resolved, send };
  }

  it('makes one pool member per resolved address, each with its own slots towards capacity', async () => {
    const { port, resolved } = await setUp({ addresses: ['127.0.0.1', '127.0.0.2'] });
    expect(resolved).toEqual(['model-server.test']);
    expect(pool!.members.map((m) => m.origin)).toEqual([`http://127.0.0.1:${port}`, `http://127.0.0.2:${port}`]);
    expect(pool!.capacity()).toEqual({ slots: 8, known: true, serving: 2 });
  });

  it('sends to a member added by the next resolution, without a restart', async () => {
    const answer = { addresses: ['127.0.0.1'] as readonly string[] | undefined };
    const { send } = await setUp(answer);
    answer.addresses = ['127.0.0.1', '127.0.0.3'];
    await discovery!.refreshAll();
    const replies = await Promise.all(Array.from({ length: 6 }, () => send()));
    for (const r of replies) if (r.ok) r.finish('complete');
    expect(replies.every((r) => r.ok && r.statusCode === 200)).toBe(true);
    expect(sims[2].stats().received).toBeGreaterThan(0);
    expect(pool!.capacity().slots).toBe(8);
  });

  it('stops sending to a member that left the answer at once, while its request in flight finishes', async () => {
    const answer = { addresses: ['127.0.0.1', '127.0.0.2'] as readonly string[] | undefined };
    const { send } = await setUp(answer);
    const inflight = [send(), send()];
    await eventually(() => sims[0].stats().inFlight + sims[1].stats().inFlight === 2, 2_000, 'both requests running');
    const onLeaving = sims[1].stats().inFlight > 0 ? sims[1] : sims[0];
    answer.addresses = [onLeaving === sims[1] ? '127.0.0.1' : '127.0.0.2'];
    await discovery!.refreshAll();
    expect(pool!.members).toHaveLength(1);
    const receivedBefore = onLeaving.stats().received;
    const runningThere = onLeaving.stats().inFlight;
    const later = await Promise.all([send(), send(), send()]);
    for (const r of later) if (r.ok) r.finish('complete');
    expect(onLeaving.stats().received).toBe(receivedBefore);
    const first = await Promise.all(inflight);
    for (const r of first) {
      expect(r.ok && r.statusCode).toBe(200);
      if (r.ok) {
        for await (const _ of r.body) void _;
        r.finish('complete');
      }
    }
    expect(onLeaving.stats().served).toBe(runningThere);
  });

  it('keeps the last members when the name cannot be resolved, and empties the source on an empty answer', async () => {
    const answer = { addresses: ['127.0.0.1', '127.0.0.2'] as readonly string[] | undefined };
    await setUp(answer);
    answer.addresses = undefined; // a DNS timeout or SERVFAIL
    await discovery!.refreshAll();
    expect(pool!.members).toHaveLength(2);
    answer.addresses = []; // NXDOMAIN: no ready pod
    await discovery!.refreshAll();
    expect(pool!.members).toHaveLength(0);
    expect(pool!.capacity()).toEqual({ slots: 0, known: true, serving: 0 });
  });

  it('keeps a member (and its breaker state) that stays in the answer', async () => {
    const answer = { addresses: ['127.0.0.1'] as readonly string[] | undefined };
    await setUp(answer);
    const before = pool!.members[0];
    answer.addresses = ['127.0.0.2', '127.0.0.1'];
    await discovery!.refreshAll();
    expect(pool!.members).toContain(before);
  });
});
