import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisJobStore, ResultNotDurableError } from '../../../runtime/jobs/store';
import { PrivateRedis } from '../../support/services';

jest.setTimeout(60_000);

/**
 * Issue 17 item 9: a result is durable (on a replica) before the worker may ack its message.
 * A private primary + replica pair of redis-server processes, started here on free ports.
 */
describe('durable job results (real primary + replica)', () => {
  let primary: PrivateRedis;
  let replica: PrivateRedis;
  let client: Redis;
  let replicaClient: Redis;
  let store: RedisJobStore;

  const linkUp = () => replica.waitReplicaLinkUp();

  // replication writes RDB files: into a folder of the test, not the working directory
  const dir = mkdtempSync(join(tmpdir(), 'surgeguard-durable-'));

  beforeAll(async () => {
    primary = await PrivateRedis.start(['--dir', dir, '--dbfilename', 'primary.rdb']);
    replica = await PrivateRedis.start(['--dir', dir, '--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(primary.port)]);
    await linkUp();
    client = new Redis({ port: primary.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    replicaClient = new Redis({ port: replica.port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    replicaClient.on('error', () => undefined);
    store = new RedisJobStore(client, { keyPrefix: 'durable:', ttlSeconds: 600, durability: { replicas: 1, timeoutMs: 2_000 } });
  });
  afterAll(async () => {
    client?.disconnect();
    replicaClient?.disconnect();
    await replica?.stop();
    await primary?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const runningJob = async (id: string) => {
    await store.create({ id, owner: 'o', priorityClass: 'low', endpoint: '/v1/chat/completions' });
    expect((await store.claim(id)).outcome).toBe('claimed');
  };

  it('stores a result once the replica has it', async () => {
    await runningJob('job-a');
    await store.succeed('job-a', { ok: 1 });
    expect(await replicaClient.hget(store.jobKey('job-a'), 'status')).toBe('succeeded');
  });

  it('refuses to report a result durable while no replica acknowledges it, and succeeds once the replica is back', async () => {
    await runningJob('job-b');
    await replica.stop();
    const started = Date.now();
    await expect(store.succeed('job-b', { ok: 2 })).rejects.toBeInstanceOf(ResultNotDurableError);
    expect(Date.now() - started).toBeLessThan(10_000); // bounded by timeoutMs, not a hang
    await replica.start();
    await linkUp();
    // the retry writes nothing new (first writer wins) and waits for the earlier write
    await expect(store.succeed('job-b', { ok: 2 })).resolves.toBeDefined();
    expect(await replicaClient.hget(store.jobKey('job-b'), 'status')).toBe('succeeded');
  });

  it('confirms a final job found on redelivery only once a replica has its outcome', async () => {
    await runningJob('job-d');
    await replica.stop();
    await expect(store.succeed('job-d', { ok: 4 })).rejects.toBeInstanceOf(ResultNotDurableError);
    // another worker reads the final status: not durable yet either
    expect((await store.claim('job-d')).outcome).toBe('final');
    await expect(store.ensureDurable('job-d')).rejects.toBeInstanceOf(ResultNotDurableError);
    await replica.start();
    await linkUp();
    await expect(store.ensureDurable('job-d')).resolves.toBeUndefined();
    expect(await replicaClient.hget(store.jobKey('job-d'), 'result')).toBe('{"ok":4}');
  });

  it('does not wait without a durability requirement (a primary without replicas)', async () => {
    const plain = new RedisJobStore(client, { keyPrefix: 'durable-plain:', ttlSeconds: 600 });
    await plain.create({ id: 'job-c', owner: 'o', priorityClass: 'low', endpoint: '/v1/chat/completions' });
    await plain.claim('job-c');
    await replica.stop();
    await expect(plain.succeed('job-c', { ok: 3 })).resolves.toBeDefined();
  });
});
