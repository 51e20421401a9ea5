import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { signRequest } from '../../runtime/launcher/sigv4';

/**
 * A local stand-in for the artifact store as the launcher meets it: STS AssumeRoleWithWebIdentity
 * (accepts only `expectedToken`, issues temporary credentials) and S3 GetObject, path-style, which
 * answers only requests signed (SigV4) with the credentials it issued — like S3 behind IAM.
 */
export class LocalArtifactStore {
  readonly objects = new Map<string, Buffer>();
  readonly requests: string[] = [];
  private server?: Server;
  private readonly issued = { accessKeyId: 'ASIALOCALSTANDIN', secretAccessKey: 'local-secret', sessionToken: 'local-session-token' };

  constructor(readonly bucket: string, readonly region: string, readonly expectedToken: string) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req).then(([status, body]) => res.writeHead(status).end(body)));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }

  private async handle(req: IncomingMessage): Promise<[number, string | Buffer]> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push(`${req.method} ${url.pathname}`);
    if (url.pathname === '/sts/' && req.method === 'POST') {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (form.get('Action') !== 'AssumeRoleWithWebIdentity' || form.get('WebIdentityToken') !== this.expectedToken) {
        return [403, '<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>token rejected</Message></Error></ErrorResponse>'];
      }
      const c = this.issued;
      return [200, `<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>${c.accessKeyId}</AccessKeyId><SecretAccessKey>${c.secretAccessKey}</SecretAccessKey><SessionToken>${c.sessionToken}</SessionToken></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`];
    }
    const prefix = `/${this.bucket}/`;
    if (req.method !== 'GET' || !url.pathname.startsWith(prefix)) return [400, '<Error><Code>InvalidRequest</Code></Error>'];
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const now = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    const expected = Number.isNaN(now.getTime())
      ? undefined
      : signRequest({ method: 'GET', url, region: this.region, service: 's3', credentials: this.issued, now }).authorization;
    if (!expected || req.headers.authorization !== expected) return [403, '<Error><Code>SignatureDoesNotMatch</Code></Error>'];
    const body = this.objects.get(decodeURIComponent(url.pathname.slice(prefix.length)));
    return body ? [200, body] : [404, '<Error><Code>NoSuchKey</Code></Error>'];
  }
}
