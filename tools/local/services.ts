import { spawn, ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';

/** Default local addresses of the data services. */
export const DEFAULT_REDIS = { host: '127.0.0.1', port: 6379 };
export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** Resolves true when a Redis at host:port answers PING within `timeoutMs`. */
export function redisAnswers(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString('utf8').startsWith('+PONG')));
    socket.once('error', () => done(false));
  });
}

/** Resolves true when something speaking AMQP 0-9-1 answers the protocol header at the URL's host:port. */
export function amqpAnswers(url: string, timeoutMs = 2_000): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: u.hostname, port: Number(u.port || (u.protocol === 'amqps:' ? 5671 : 5672)) });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => socket.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1])));
    // connection.start is a method frame (type 1) on channel 0.
    socket.once('data', (d) => done(d[0] === 1));
    socket.once('error', () => done(false));
  });
}

/** A private redis-server for this session only (no persistence), when the binary is installed. */
export async function startPrivateRedis(port: number, dir: string): Promise<ChildProcess | undefined> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const failed = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(true));
    setTimeout(() => resolve(false), 200);
  });
  if (failed) return undefined;
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers('127.0.0.1', port, 200)) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  return undefined;
}
