import { connect, Socket } from 'node:net';
import { Harness, chat, eventually, quietPool, startHarness } from '../../support/proxy-harness';

/** Issue 17 item 2: idle sockets cannot lock clients and probes out. */
describe('client connections', () => {
  let h: Harness;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    h = await startHarness([{}], (urls) => ({
      server: { maxConnections: 20, healthReserveConnections: 4, firstRequestTimeoutMs: 1_000, keepAliveTimeoutMs: 400 },
      auth: 'none',
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
    }));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await h.close();
  });

  const port = () => Number(new URL(h.url).port);
  const openIdle = () =>
    new Promise<Socket>((resolve, reject) => {
      const s = connect(port(), '127.0.0.1', () => resolve(s));
      s.on('error', reject);
      sockets.push(s);
    });
  const connections = () => new Promise<number>((resolve, reject) => h.proxy.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  /** One request on a fresh connection, written raw; resolves with the status and body once the proxy answers. */
  const once = (head: string, body = '') =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const s = connect(port(), '127.0.0.1', () => s.write(`${head}\r\nhost: x\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`));
      let text = '';
      s.on('data', (d) => (text += String(d)));
      s.on('close', () => (text ? resolve({ status: Number(text.slice(9, 12)), body: text.slice(text.indexOf('\r\n\r\n') + 4) }) : reject(new Error('closed without an answer'))));
      s.on('error', () => undefined);
    });

  it('answers /healthz and /readyz while idle sockets fill maxConnections, refuses the API over it, and closes the idle sockets at firstRequestTimeoutMs', async () => {
    const idle = await Promise.all(Array.from({ length: 20 }, openIdle));
    await eventually(async () => (await connections()) === 20, 3_000, '20 connections');
    const closed = idle.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));

    expect((await once('GET /healthz HTTP/1.1')).status).toBe(200);
    expect((await once('GET /readyz HTTP/1.1')).status).toBe(200);
    const api = await once('POST /v1/chat/completions HTTP/1.1\r\ncontent-type: application/json', JSON.stringify(chat()));
    expect(api.status).toBe(503);
    expect(JSON.parse(api.body).error.code).toBe('too_many_connections');

    // the idle sockets never sent a byte: closed by the proxy, within a bounded wait
    await Promise.race([Promise.all(closed), new Promise((_, reject) => setTimeout(() => reject(new Error('idle sockets still open')), 5_000))]);
    expect((await once('POST /v1/chat/completions HTTP/1.1\r\ncontent-type: application/json', JSON.stringify(chat()))).status).toBe(200);
  });

  it('closes a keep-alive connection that stays idle after its response for keepAliveTimeoutMs', async () => {
    const s = await openIdle();
    let text = '';
    s.on('data', (d) => (text += String(d)));
    const closed = new Promise<number>((resolve) => s.once('close', () => resolve(Date.now())));
    s.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    await eventually(() => text.includes('"ok"'), 3_000, 'the answer');
    const answeredAt = Date.now();
    const at = await Promise.race([closed, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('keep-alive socket still open')), 5_000))]);
    expect(at - answeredAt).toBeGreaterThanOrEqual(300);
  });

  it('a connection that starts but never finishes its first request is closed too', async () => {
    const s = await openIdle();
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.write('GET /hea');
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('half-request socket still open')), 15_000))]);
  });
});
