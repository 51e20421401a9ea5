import { createServer, IncomingMessage, Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forwardJobRequest } from '../../../runtime/proxy/region-forwarder';
import { HOSTS_OVERRIDE_ENV } from '../../../runtime/common/upstream/resolver';

/**
 * The forwarder resolves a peer's regional endpoint the way upstream members are resolved: the
 * hosts override file (SURGEGUARD_HOSTS_FILE) first, then DNS. Without it, the configs the stacks
 * render (peers at https://<region>.<domain>) cannot run on one machine, and a local rehearsal
 * would send job polls to real DNS.
 */
describe('forwarding a job request to its home region', () => {
  let server: Server;
  let port: number;
  let dir: string;
  const seen: Array<{ method?: string; url?: string; auth?: string; forwardedBy?: string | string[] }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, forwardedBy: req.headers['x-surgeguard-forwarded-by'] });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"eu-west-1.x","status":"queued"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
    dir = mkdtempSync(join(tmpdir(), 'forwarder-'));
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reaches a peer whose name only the hosts override file knows, with the caller\'s credentials and the loop guard', async () => {
    const hosts = join(dir, 'hosts.json');
    writeFileSync(hosts, JSON.stringify({ 'eu-west-1.api.surgeguard.invalid': ['127.0.0.1'] }));
    const result = await forwardJobRequest({
      baseUrl: `http://eu-west-1.api.surgeguard.invalid:${port}`,
      method: 'GET',
      path: '/v1/jobs/eu-west-1.x',
      incoming: { headers: { authorization: 'Bearer sk-caller' } } as unknown as IncomingMessage,
      fromRegion: 'us-east-1',
      timeoutMs: 5_000,
      maxResponseBytes: 1_000,
      env: { [HOSTS_OVERRIDE_ENV]: hosts },
    });
    expect(result).toMatchObject({ ok: true, reply: { status: 200 } });
    expect(seen.at(-1)).toEqual({ method: 'GET', url: '/v1/jobs/eu-west-1.x', auth: 'Bearer sk-caller', forwardedBy: 'us-east-1' });
  });
});
