import * as amqp from 'amqplib';
import { ConfirmedPublisher, PublishError } from '../../../runtime/jobs/amqp';
import { BrokerUnavailableError, JobPublisher } from '../../../runtime/jobs/publisher';
import { callbackUrlProblem, CallbackSchema } from '../../../runtime/jobs/config';
import { decodeJobMessage, JOB_MESSAGE_VERSION, JobMessage, newJobId } from '../../../runtime/jobs/model';
import { AMQP_URL, connectAmqp, testTopology } from '../../support/services';

jest.setTimeout(30_000);

const message = (): JobMessage => ({
  v: JOB_MESSAGE_VERSION,
  id: newJobId(),
  owner: 'owner-hash',
  priorityClass: 'critical',
  endpoint: '/v1/chat/completions',
  request: { model: 'm', messages: [] },
  submittedAt: Date.now(),
});

describe('JobPublisher (real RabbitMQ)', () => {
  it('puts a confirmed, persistent message on the queue of its class', async () => {
    const { topology, dispose } = await testTopology('publisher');
    const publisher = new JobPublisher({ url: AMQP_URL, topology });
    const conn = await connectAmqp();
    try {
      publisher.start();
      await publisher.waitReady(15_000);
      const sent = message();
      await publisher.publish(sent);
      const ch = await conn.createChannel();
      const got = await ch.get(topology.classQueues.critical.name, { noAck: true });
      expect(got).not.toBe(false);
      if (!got) return;
      expect(got.properties.deliveryMode).toBe(2);
      expect(got.properties.messageId).toBe(sent.id);
      expect(decodeJobMessage(got.content)).toEqual({ ok: true, message: sent });
      expect((await ch.checkQueue(topology.classQueues.low.name)).messageCount).toBe(0);
    } finally {
      await publisher.close();
      await conn.close();
      await dispose();
    }
  });

  it('refuses at once with BrokerUnavailableError while there is no broker connection', async () => {
    const { topology } = await testTopology('publisher-down');
    const publisher = new JobPublisher({ url: 'amqp://guest:guest@127.0.0.1:1', topology, backoff: { baseMs: 50, capMs: 200 } });
    publisher.start();
    try {
      await expect(publisher.publish(message())).rejects.toBeInstanceOf(BrokerUnavailableError);
      await new Promise((r) => setTimeout(r, 200));
      await expect(publisher.publish(message())).rejects.toThrow(/job queue unavailable \(.*ECONNREFUSED/);
      expect(publisher.ready).toBe(false);
    } finally {
      await publisher.close();
    }
  });

  it('fails a publish the broker cannot route instead of reporting success', async () => {
    const conn = await amqp.connect(AMQP_URL);
    try {
      const ch = await conn.createConfirmChannel();
      const publisher = new ConfirmedPublisher(ch);
      // The default exchange routes by queue name; no such queue exists.
      const publish = publisher.publish('', `no-such-queue-${newJobId()}`, Buffer.from('{}'), { messageId: 'm1', persistent: true }, 5_000);
      await expect(publish).rejects.toBeInstanceOf(PublishError);
      await expect(publish).rejects.toThrow(/unroutable/);
    } finally {
      await conn.close();
    }
  });
});

describe('callback allow-list', () => {
  const config = CallbackSchema.parse({ allowedHosts: ['hooks.example.com', '*.corp.example.com', 'localhost:9000'] });

  it('accepts https URLs on listed hosts and their subdomains when *.-prefixed', () => {
    expect(callbackUrlProblem('https://hooks.example.com/done', config)).toBeUndefined();
    expect(callbackUrlProblem('https://a.b.corp.example.com/x', config)).toBeUndefined();
  });

  it('refuses other hosts, plain http, credentials and lookalike hosts', () => {
    expect(callbackUrlProblem('https://evil.example.net/', config)).toBe('callback host evil.example.net:443 is not in the allow-list');
    expect(callbackUrlProblem('https://hooks.example.com.evil.net/', config)).toMatch(/not in the allow-list/);
    expect(callbackUrlProblem('https://corp.example.com.attacker.io/', config)).toMatch(/not in the allow-list/);
    expect(callbackUrlProblem('http://hooks.example.com/', config)).toBe('callback URL must use https');
    expect(callbackUrlProblem('https://user:pw@hooks.example.com/', config)).toBe('callback URL must not carry credentials');
    expect(callbackUrlProblem('not a url', config)).toBe('callback URL is not a valid absolute URL');
  });

  it('allows an entry only on its port: the one it names, else 443', () => {
    expect(callbackUrlProblem('https://hooks.example.com:443/done', config)).toBeUndefined();
    expect(callbackUrlProblem('https://hooks.example.com:6379/done', config)).toBe('callback host hooks.example.com:6379 is not in the allow-list');
    expect(callbackUrlProblem('https://x.corp.example.com:22/', config)).toMatch(/not in the allow-list/);
    expect(callbackUrlProblem('https://localhost:9000/hook', config)).toBeUndefined();
    expect(callbackUrlProblem('https://localhost/hook', config)).toMatch(/localhost:443 is not in the allow-list/);
  });

  it('refuses an allow-listed IP literal that is not public unless allowPrivateAddresses is set', () => {
    const ips = CallbackSchema.parse({ allowedHosts: ['10.0.0.5', '169.254.169.254:80'] });
    expect(callbackUrlProblem('https://10.0.0.5/hook', ips)).toBe('callback address 10.0.0.5 is not public');
    expect(callbackUrlProblem('http://169.254.169.254/latest', { ...ips, allowHttp: true })).toBe('callback address 169.254.169.254 is not public');
    expect(callbackUrlProblem('https://10.0.0.5/hook', { ...ips, allowPrivateAddresses: true })).toBeUndefined();
  });

  it('refuses everything with the default empty list', () => {
    expect(callbackUrlProblem('https://hooks.example.com/', CallbackSchema.parse({}))).toMatch(/not in the allow-list/);
  });
});
