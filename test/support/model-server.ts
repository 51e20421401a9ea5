import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A scriptable OpenAI-compatible HTTP server for worker tests: every call is recorded with the
 * job id the worker sends (`x-surgeguard-job-id`), and the test decides each answer. A real
 * socket, so the worker's real HTTP client, timeouts and error paths are exercised.
 */
export interface ModelAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

export type ModelBehaviour = (call: { jobId: string; body: Record<string, unknown>; nth: number }) => ModelAnswer | Promise<ModelAnswer>;

export function chatCompletion(content: string): ModelAnswer {
  return {
    status: 200,
    body: {
      id: 'chatcmpl-test',
      object: 'chat.completion',
      created: 0,
      model: 'test-model',
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    },
  };
}

export class TestModelServer {
  readonly calls: { jobId: string; body: Record<string, unknown>; path: string }[] = [];
  behaviour: ModelBehaviour = ({ jobId }) => chatCompletion(`done ${jobId}`);
  private readonly server: Server;
  private port = 0;

  constructor() {
    this.server = createServer((req, res) => {
      void readBody(req).then(async (text) => {
        const jobId = String(req.headers['x-surgeguard-job-id'] ?? '');
        const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        this.calls.push({ jobId, body, path: req.url ?? '' });
        const nth = this.calls.filter((c) => c.jobId === jobId).length;
        try {
          const answer = await this.behaviour({ jobId, body, nth });
          res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.headers ?? {}) });
          res.end(JSON.stringify(answer.body));
        } catch {
          res.destroy();
        }
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  callsFor(jobId: string): number {
    return this.calls.filter((c) => c.jobId === jobId).length;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
