import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { WORKER_CONTRACT } from '../../contract/service';

/**
 * The worker's small HTTP server: liveness (`/healthz`: the process answers), readiness
 * (`/readyz`: consuming, Redis usable, not draining) and Prometheus metrics.
 */
export class HealthServer {
  private readonly server: Server;

  constructor(
    private readonly registry: Registry,
    private readonly ready: () => boolean,
  ) {
    this.server = createServer((req, res) => void this.route(req, res));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(res, 405, 'method not allowed\n');
    if (path === WORKER_CONTRACT.healthPath) return send(res, 200, 'ok\n');
    if (path === WORKER_CONTRACT.readyPath) return this.ready() ? send(res, 200, 'ready\n') : send(res, 503, 'not ready\n');
    if (path === WORKER_CONTRACT.metricsPath) {
      const body = await this.registry.metrics();
      res.writeHead(200, { 'content-type': this.registry.contentType });
      res.end(body);
      return;
    }
    send(res, 404, 'not found\n');
  }
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}
