import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { isNonPublicAddress, publicOnlyLookup } from '../../../runtime/common/net-guard';
import { CallbackSchema } from '../../../runtime/jobs/config';
import type { JobRecord } from '../../../runtime/jobs/model';
import { CallbackNotifier } from '../../../runtime/worker/callbacks';
import { WorkerMetrics } from '../../../runtime/worker/metrics';

/** Issue 17 item 8: callbacks reach public addresses only, checked where the socket connects. */
describe('callback address guard', () => {
  it.each(['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:169.254.169.254'])(
    'treats %s as not public',
    (address) => expect(isNonPublicAddress(address)).toBe(true),
  );

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('treats %s as public', (address) => expect(isNonPublicAddress(address)).toBe(false));

  it('refuses a name that resolves to a private address at connect time (DNS rebinding), accepts a public one', async () => {
    let answer = '93.184.216.34';
    const lookup = publicOnlyLookup((_host, _opts, cb) => cb(null, [{ address: answer, family: 4 }]));
    const resolve = () =>
      new Promise<string>((ok, fail) => (lookup as unknown as (h: string, o: object, cb: (e: Error | null, a: string) => void) => void)('hooks.example.com', {}, (err, a) => (err ? fail(err) : ok(a))));
    await expect(resolve()).resolves.toBe('93.184.216.34');
    answer = '127.0.0.1'; // the same name, rebound
    await expect(resolve()).rejects.toThrow('hooks.example.com resolves to 127.0.0.1, which is not a public address');
  });

  describe('CallbackNotifier', () => {
    let server: Server;
    let port: number;
    let hits = 0;
    beforeAll(async () => {
      server = createServer((req, res) => {
        hits++;
        req.resume();
        res.writeHead(204).end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise((r) => server.close(r)));

    const job = (callbackUrl: string): JobRecord => ({ id: 'job-1', owner: 'o', status: 'succeeded', priorityClass: 'low', endpoint: '/v1/chat/completions', createdAt: 0, updatedAt: 0, attempts: 1, published: true, callbackUrl });
    const notifier = (allowPrivateAddresses: boolean, metrics: WorkerMetrics) =>
      new CallbackNotifier(CallbackSchema.parse({ allowedHosts: [`localhost:${port}`, `127.0.0.1:${port}`], allowHttp: true, allowPrivateAddresses, maxAttempts: 1, timeoutMs: 2_000 }), pino({ level: 'silent' }), metrics);
    const count = async (metrics: WorkerMetrics, outcome: string) => (await metrics.callbacks.get()).values.find((v) => v.labels.result === outcome)?.value ?? 0;

    it('does not connect to an allow-listed name that resolves to loopback, nor to a loopback literal', async () => {
      const metrics = new WorkerMetrics({ defaultMetrics: false });
      const n = notifier(false, metrics);
      n.notify(job(`http://localhost:${port}/hook`));
      n.notify(job(`http://127.0.0.1:${port}/hook`));
      await n.settle(5_000);
      expect(hits).toBe(0);
      expect(await count(metrics, 'failed')).toBe(1); // the name: refused at connect
      expect(await count(metrics, 'refused')).toBe(1); // the literal: refused before
    });

    it('delivers to the same addresses when allowPrivateAddresses is set (local use)', async () => {
      const metrics = new WorkerMetrics({ defaultMetrics: false });
      const n = notifier(true, metrics);
      n.notify(job(`http://localhost:${port}/hook`));
      await n.settle(5_000);
      expect(hits).toBe(1);
      expect(await count(metrics, 'delivered')).toBe(1);
    });
  });
});
