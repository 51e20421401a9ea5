import { ProxyConfigSchema } from '../../../runtime/proxy/config';
import { Harness, chat, post, quietPool, startHarness } from '../../support/proxy-harness';
import { freePort } from '../../support/services';

jest.setTimeout(30_000);

/**
 * A route entry's `classes`: a pool only some classes may use (an external provider kept for
 * critical, high and medium) is not in the chain of the others.
 */
describe('route pools limited to some classes', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function localDownProviderUp(): Promise<Harness> {
    // the local pool's only member refuses connections: every request must go elsewhere or fail
    const closed = `http://127.0.0.1:${await freePort()}`;
    return startHarness([{ name: 'provider' }], ([provider]) => ({
      auth: 'none',
      pools: { local: quietPool([closed]), provider: quietPool([provider], { upstreams: [{ url: provider, name: 'provider' }] }) },
      routes: [{ model: 'sim-model', pools: ['local', { pool: 'provider', classes: ['critical', 'high'] }] }],
      retry: { baseBackoffMs: 0 },
    }));
  }

  it('sends a class the entry names on to that pool', async () => {
    h = await localDownProviderUp();
    const reply = await post(`${h.url}/v1/chat/completions`, chat(), { 'x-priority': 'high' });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-sim-name']).toBe('provider');
  });

  it('never sends a class the entry leaves out to that pool', async () => {
    h = await localDownProviderUp();
    const reply = await post(`${h.url}/v1/chat/completions`, chat(), { 'x-priority': 'medium' });
    expect(reply.status).toBeGreaterThanOrEqual(500);
    expect(h.sims[0].stats().received).toBe(0);
  });

  it('refuses a route in which no pool takes some class, naming the class', () => {
    const r = ProxyConfigSchema.safeParse({
      auth: 'none',
      pools: { a: { upstreams: [{ url: 'http://127.0.0.1:1' }] } },
      routes: [{ model: 'm', pools: [{ pool: 'a', classes: ['critical'] }] }],
    });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toContain('routes.0.pools: no pool of the route takes high requests (every entry\'s classes leave it out)');
  });
});
