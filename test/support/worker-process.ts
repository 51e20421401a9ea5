import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The compiled worker (`npm run build` first; `npm test` does). */
export const WORKER_MAIN = resolve(__dirname, '../../dist/runtime/worker/main.js');

export function writeWorkerConfig(config: unknown): string {
  if (!existsSync(WORKER_MAIN)) throw new Error(`${WORKER_MAIN} is missing: run npm run build first`);
  const dir = mkdtempSync(join(tmpdir(), 'surgeguard-worker-'));
  const file = join(dir, 'worker.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** A spawned worker process and its JSON log lines. */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private buffer = '';

  constructor(configFile: string) {
    this.child = spawn(process.execPath, [WORKER_MAIN, '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.lines.push({ msg: line });
        }
      }
    });
    let stderr = '';
    this.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    this.exited = new Promise((resolveExit) =>
      this.child.once('exit', (code, signal) => {
        if (code !== 0 && code !== null && stderr) this.lines.push({ msg: 'stderr', stderr });
        resolveExit({ code, signal });
      }),
    );
  }

  /** Resolves when a log line with this message appears; rejects on exit or timeout. */
  waitForLog(msg: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    return new Promise((resolveLine, reject) => {
      const deadline = Date.now() + timeoutMs;
      const check = (): void => {
        const found = this.lines.find((l) => l.msg === msg);
        if (found) return resolveLine(found);
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          return reject(new Error(`worker exited before logging "${msg}": ${JSON.stringify(this.lines.slice(-5))}`));
        }
        if (Date.now() > deadline) return reject(new Error(`worker did not log "${msg}" within ${timeoutMs} ms`));
        setTimeout(check, 20);
      };
      check();
    });
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}
