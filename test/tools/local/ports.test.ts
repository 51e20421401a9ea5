import { createServer, type Server } from 'node:net';
import { freePort, portAnswers, waitForPort } from '../../../tools/local/ports';

describe('local ports', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  const listen = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const s = createServer((socket) => socket.destroy());
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve(s));
    });

  it('finds a port that nothing listens on and that can then be listened on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(await portAnswers(port)).toBe(false);
    server = await listen(port);
    expect(await portAnswers(port)).toBe(true);
  });

  it('waits for a port that starts listening later', async () => {
    const port = await freePort();
    const later = new Promise<void>((r) => setTimeout(() => void listen(port).then((s) => ((server = s), r())), 200));
    await waitForPort('127.0.0.1', port, 10_000);
    await later;
  });

  it('gives up after its timeout, naming the address', async () => {
    const port = await freePort();
    await expect(waitForPort('127.0.0.1', port, 100)).rejects.toThrow(`127.0.0.1:${port} not listening within 100 ms`);
  });
});
