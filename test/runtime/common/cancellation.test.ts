import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { Cancellation, onAbort } from '../../../runtime/common/cancellation';

describe('Cancellation', () => {
  it('aborts once, keeps the first reason and tells each listener once', () => {
    const c = new Cancellation();
    const heard: unknown[] = [];
    onAbort(c, () => heard.push(c.reason));
    expect([c.aborted, c.reason]).toEqual([false, undefined]);
    const first = new Error('client disconnected');
    c.abort(first);
    c.abort(new Error('deadline'));
    expect(c.aborted).toBe(true);
    expect(c.reason).toBe(first);
    expect(heard).toEqual([first]);
  });

  it('gives a standard AbortSignal made on first use, aborted with it or already aborted', () => {
    const before = new Cancellation();
    const signal = before.signal;
    expect(before.signal).toBe(signal);
    expect(signal.aborted).toBe(false);
    before.abort('gone');
    expect([signal.aborted, signal.reason]).toEqual([true, 'gone']);

    const after = new Cancellation();
    after.abort('late');
    expect([after.signal.aborted, after.signal.reason]).toEqual([true, 'late']);
  });

  it('follows an AbortSignal or another cancellation, and stops following when told', () => {
    const controller = new AbortController();
    const fromSignal = Cancellation.following(controller.signal);
    controller.abort('client gone');
    expect([fromSignal.cancellation.aborted, fromSignal.cancellation.reason]).toEqual([true, 'client gone']);

    const parent = new Cancellation();
    const unfollowed = Cancellation.following(parent);
    unfollowed.unfollow();
    expect(parent.listenerCount('abort')).toBe(0);
    parent.abort('ignored');
    expect(unfollowed.cancellation.aborted).toBe(false);

    const already = new AbortController();
    already.abort('before');
    expect(Cancellation.following(already.signal).cancellation.reason).toBe('before');
    expect(Cancellation.following(undefined).cancellation.aborted).toBe(false);
  });

  it('onAbort returns a remover for AbortSignals and cancellations alike', () => {
    const calls: string[] = [];
    const controller = new AbortController();
    const c = new Cancellation();
    onAbort(controller.signal, () => calls.push('signal'))();
    onAbort(c, () => calls.push('cancellation'))();
    controller.abort();
    c.abort();
    expect(calls).toEqual([]);
  });

  describe('as the signal of an undici request (the proxy hot path)', () => {
    let server: Server;
    let pool: Pool;
    let origin: string;
    const closed: string[] = [];

    beforeAll(async () => {
      // answers headers, then holds the body open until the request is aborted
      server = createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first chunk');
        req.socket.once('close', () => closed.push(req.url ?? ''));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      pool = new Pool(origin);
    });

    afterAll(async () => {
      await pool.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it('aborting it breaks off a response body and closes the upstream connection', async () => {
      const c = new Cancellation();
      const res = await pool.request({ method: 'GET', path: '/held', signal: c });
      expect(res.statusCode).toBe(200);
      const reading = res.body.text().catch((err: Error) => err);
      c.abort(new Error('client disconnected'));
      expect(await reading).toEqual(new Error('client disconnected'));
      await waitFor(() => closed.includes('/held'));
    });

    it('an already aborted one is never sent', async () => {
      const c = new Cancellation();
      c.abort(new Error('too late'));
      await expect(pool.request({ method: 'GET', path: '/never', signal: c })).rejects.toThrow('too late');
      expect(closed).not.toContain('/never');
    });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
