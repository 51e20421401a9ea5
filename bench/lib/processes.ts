import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { request } from 'undici';

/** A child process started by a benchmark. */
export interface Child {
  readonly process: ChildProcess;
  /** What it printed (from its log file when it writes to one). */
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Ready when this URL answers 2xx (polled every 50 ms). */
  readonly probeUrl?: string;
  /** Ready when its output satisfies this (used when there is no probe URL). */
  readonly readyOutput?: (output: string) => boolean;
  /** Write stdout and stderr to this file instead of a pipe (so logging costs the benchmark nothing). */
  readonly logFile?: string;
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** Spawns a command and resolves once it is ready; rejects (and kills it) otherwise. */
export async function startChild(command: string, args: string[], options: StartOptions): Promise<Child> {
  const fd = options.logFile ? openSync(options.logFile, 'w') : undefined;
  const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'] });
  if (fd !== undefined) closeSync(fd);
  let piped = '';
  child.stdout?.on('data', (d) => (piped.length < 64_000 ? (piped += String(d)) : undefined));
  child.stderr?.on('data', (d) => (piped.length < 64_000 ? (piped += String(d)) : undefined));
  const output = () => (options.logFile ? safeRead(options.logFile) : piped);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const handle: Child = {
    process: child,
    output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    if (exited !== undefined) throw new Error(`${command} exited with ${exited} before it was ready:\n${output()}`);
    if (options.probeUrl) {
      const ok = await request(options.probeUrl)
        .then(async (r) => {
          await r.body.dump();
          return r.statusCode >= 200 && r.statusCode < 300;
        })
        .catch(() => false);
      if (ok) return handle;
    } else if (options.readyOutput?.(output())) {
      return handle;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${command} not ready in time:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-64_000);
  } catch {
    return '';
  }
}

/** Every child a run started, so a signal or a crash still stops them all. */
export class ChildGroup {
  readonly live = new Set<Child>();

  /** `startChild`, remembered until it exits. */
  async start(command: string, args: string[], options: StartOptions): Promise<Child> {
    const c = await startChild(command, args, options);
    this.live.add(c);
    c.process.once('exit', () => this.live.delete(c));
    return c;
  }

  killAll(): void {
    for (const c of this.live) c.process.kill('SIGKILL');
  }
}

export { freePort } from '../../tools/local/ports';
