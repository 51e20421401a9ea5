import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { proxyRuntimeConfig, type RuntimeConfigInputs } from '../../../../constructs/workloads/runtime-configs';
import { RUNTIME_SECRET_ENV } from '../../../../contract/secrets';
import { HOSTS_OVERRIDE_ENV } from '../../../../runtime/common/upstream/resolver';
import { hashApiKey } from '../../../../runtime/proxy/auth';
import { ProxyConfigSchema } from '../../../../runtime/proxy/config';
import { createProxy, type Proxy } from '../../../../runtime/proxy/server';
import { startSimulator, type Simulator } from '../../../../runtime/simulator/simulator';
import { chat, eventually, post, silentLogger } from '../../../support/proxy-harness';
import { connectRedis, deleteKeys, freePort } from '../../../support/services';

jest.setTimeout(120_000);

/**
 * The config the stacks render for a cell, run as three proxy replicas sharing one Redis, in
 * front of four model-server "pods" (simulators on their own loopback addresses, found through
 * the headless Service's name like in a cluster). Only what bench:cell also changes is changed:
 * the listen address, Redis (the local one, plain, under a unique prefix), the model-server
 * name's addresses (SURGEGUARD_HOSTS_FILE) and the jobs API (off: not what this is about).
 */
describe.each([['equal (the default)', 'equal'] as const, ['demand', 'demand'] as const])('three proxy replicas running the rendered cell config, shares %s', (_, shareBy) => {
  const SLOTS = 8;
  const PODS = 4;
  const HOST = 'model-server.cell.test';
  const key = `sk-${randomBytes(12).toString('hex')}`;
  const prefix = `sg-test-cell-${randomBytes(4).toString('hex')}:`;
  const net = `127.${30 + (randomBytes(1)[0] % 200)}.${randomBytes(1)[0]}`;
  let dir: string;
  let redis: Redis;
  let sims: Simulator[] = [];
  let proxies: Proxy[] = [];
  let urls: string[] = [];

  beforeAll(async () => {
    redis = await connectRedis();
    dir = mkdtempSync(join(tmpdir(), 'sg-cell-replicas-'));
    const port = await freePort();
    // each answer takes ~4 s: the requests below overlap whatever the machine's speed
    sims = await Promise.all(
      Array.from({ length: PODS }, (_, i) => startSimulator({ host: `${net}.${10 + i}`, port, name: `pod${i}`, slots: SLOTS, queueSize: 256, outputTokens: 8, tokensPerSecond: 2 })),
    );
    const hostsFile = join(dir, 'hosts.json');
    writeFileSync(hostsFile, JSON.stringify({ [HOST]: sims.map((_, i) => `${net}.${10 + i}`) }));
    const inputs: RuntimeConfigInputs = {
      modelName: 'sim-model',
      modelServerUrl: `http://${HOST}:${port}`,
      modelServerSlots: SLOTS,
      region: 'us-east-1',
      redisHost: 'clustercfg.example.cache.amazonaws.com',
      apiKeys: [{ name: 'realtime', sha256: hashApiKey(key), tier: 'critical' }],
      workerDrainSeconds: 60,
    };
    const rendered = proxyRuntimeConfig(inputs);
    for (let k = 0; k < 3; k++) {
      const config = ProxyConfigSchema.parse({
        ...rendered,
        jobs: undefined,
        server: { ...rendered.server, host: '127.0.0.1', port: 0 },
        redis: { ...rendered.redis, host: '127.0.0.1', port: 6379, tls: false, cluster: false, password: undefined, keyPrefix: prefix },
        // the one setting changed for the second run: how the replicas share the pods
        ...(shareBy === 'demand' ? { admission: { ...rendered.admission, defaults: { ...rendered.admission?.defaults, replicas: { shareBy } } } } : {}),
      });
      const proxy = createProxy(config, { logger: silentLogger(), env: { [HOSTS_OVERRIDE_ENV]: hostsFile, [RUNTIME_SECRET_ENV.redisAuthToken]: '' } });
      proxies.push(proxy);
      urls.push((await proxy.listen()).url);
    }
  });

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.drain()));
    await Promise.all(sims.map((s) => s.close()));
    await deleteKeys(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
    proxies = [];
    sims = [];
    urls = [];
  });

  /** What the pods hold (running + waiting), with the most of it and of one pod's queue, sampled every 5 ms until stopped. */
  const samplePods = () => {
    const held = () => sims.reduce((n, s) => n + s.stats().inFlight + s.stats().waiting, 0);
    const sampled = { held, most: 0, mostWaiting: 0, stop: () => clearInterval(timer) };
    const timer = setInterval(() => {
      sampled.most = Math.max(sampled.most, held());
      sampled.mostWaiting = Math.max(sampled.mostWaiting, ...sims.map((s) => s.stats().waiting));
    }, 5);
    return sampled;
  };

  it('admit up to the capacity of the pods with one critical-tier key, and no further, without stacking requests on one pod (no per-key rate limit in the way)', async () => {
    const capacity = SLOTS * PODS;
    // the replicas found the four pods and each other: their shares add up to the capacity
    await eventually(
      () => proxies.every((p) => p.pools.get('model-servers')!.members.length === PODS) && proxies.reduce((n, p) => n + p.overload.admission.get('model-servers')!.limit, 0) === capacity,
      15_000,
      () => `four pods discovered and the capacity shared by three replicas (members ${proxies.map((p) => p.pools.get('model-servers')!.members.length)}, limits ${proxies.map((p) => p.overload.admission.get('model-servers')!.limit)})`,
    );
    const pods = samplePods();
    try {
      // twice the capacity at once, round robin over the replicas like the L4 balancer, every class asked for (the key may lower its class)
      const classes = ['critical', 'high', 'medium', 'low'];
      const replies = Promise.all(
        Array.from({ length: 2 * capacity }, (_, i) =>
          post(`${urls[i % 3]}/v1/chat/completions`, chat(), { authorization: `Bearer ${key}`, 'x-priority': classes[i % 4], 'x-request-timeout': '60' }),
        ),
      );
      // all of the capacity in use at once: no request refused while a slot was free ...
      await eventually(() => pods.held() === capacity, 20_000, () => `the pods to hold ${capacity} requests (they hold ${pods.held()})`);
      const statuses = (await replies).map((r) => r.status);
      expect(statuses).toEqual(Array(2 * capacity).fill(200));
    } finally {
      pods.stop();
    }
    // ... and never more: the replicas' shares add up to the slots, nothing waits in a pod's queue beyond them
    expect(pods.most).toBe(capacity);
    // ... and no pod queued while another had a free slot: the replicas, balancing on their own,
    // kept each pod within its part of the pod's slots (no stacking)
    expect(pods.mostWaiting).toBe(0);
    expect(sims.reduce((n, s) => n + s.stats().received, 0)).toBe(2 * capacity);
  });

  // sharing by demand only: with equal shares replica 0 never holds more than its third
  if (shareBy === 'demand') {
    it('serve critical demand in class order across the replicas: one replica handed more critical requests than its equal share gets the slots the others spent on high ones, without over-admitting or stacking', async () => {
      const capacity = SLOTS * PODS;
      const admission = (k: number) => proxies[k].overload.admission.get('model-servers')!;
      await eventually(
        () => proxies.every((p) => p.pools.get('model-servers')!.members.length === PODS) && proxies.reduce((n, _, k) => n + admission(k).limit, 0) === capacity,
        15_000,
        () => `four pods and three replicas sharing them (limits ${proxies.map((_, k) => admission(k).limit)})`,
      );
      // the first test's requests are all answered: nothing left in flight anywhere
      await eventually(() => proxies.every((_, k) => admission(k).inflight === 0), 15_000, 'the replicas idle');
      const equalShare = Math.ceil(capacity / 3);
      const pods = samplePods();
      const replies: Array<Promise<{ status: number; cls: string }>> = [];
      // requests sent to each replica and not answered yet: on their way, queued or in flight (what
      // the replica's demand will be, however late the requests reach it on a busy machine)
      const outstanding = [0, 0, 0];
      const send = (k: number, cls: string) => {
        sent++;
        outstanding[k]++;
        replies.push(post(`${urls[k]}/v1/chat/completions`, chat(), { authorization: `Bearer ${key}`, 'x-priority': cls, 'x-request-timeout': '90' }).then((r) => (outstanding[k]--, { status: r.status, cls })));
      };
      const demand = (k: number) => admission(k).demand();
      // Replica 0 gets critical requests, far more than its equal share serves; replicas 1 and 2 get
      // high ones, more than theirs. Producers keep both demands up until the critical requests hold
      // most of the pods (the L4 balancer's uneven hand-out, kept up as long as it takes).
      let criticalHeld = false;
      let sent = 0;
      try {
        const deadline = Date.now() + 60_000;
        while (!criticalHeld && Date.now() < deadline && sent < 400) {
          // top each replica up to its demand by what is outstanding, once per round
          for (let n = capacity - outstanding[0]; n > 0; n--) send(0, 'critical');
          for (const k of [1, 2]) for (let n = capacity / 2 - outstanding[k]; n > 0; n--) send(k, 'high');
          // in class order across the replicas: critical holds all but the others' floors, the highs wait
          criticalHeld = admission(0).snapshot().inflightByClass.critical >= capacity - 4 && demand(1).high > admission(1).inflight && demand(2).high > admission(2).inflight;
          await new Promise((r) => setTimeout(r, 20));
        }
        // (which bound ended the loop, if not the critical requests holding the pods)
        expect({ criticalHeld, equalShare, tooMany: sent >= 400, late: Date.now() >= deadline }).toEqual({ criticalHeld: true, equalShare, tooMany: false, late: false });
        const done = await Promise.all(replies);
        // nothing lost: every request answered, critical and high
        expect(done.filter((r) => r.status !== 200)).toEqual([]);
      } finally {
        pods.stop();
      }
      // never more at the pods than their slots, nor a pod queueing while another had room
      expect(pods.most).toBeLessThanOrEqual(capacity);
      expect(pods.mostWaiting).toBe(0);
    });
  }
});
