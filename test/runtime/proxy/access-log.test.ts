import { Writable } from 'node:stream';
import { AccessLog, AccessLogEntry } from '../../../runtime/proxy/access-log';
import { createLogger } from '../../../runtime/common/config/logging';

const entry = (over: Partial<AccessLogEntry> = {}): AccessLogEntry => ({
  requestId: 'req-1',
  method: 'POST',
  path: '/v1/chat/completions',
  status: 200,
  class: 'high',
  key: 'app',
  model: 'sim-model',
  pool: 'local',
  upstream: 'sim0',
  attempts: 1,
  ttfbMs: 0.52,
  durationMs: 3,
  streamError: undefined,
  ...over,
});

function collector(): { writes: string[]; write(chunk: string): void } {
  const writes: string[] = [];
  return { writes, write: (chunk) => void writes.push(chunk) };
}

const FIXED_TIME = Date.parse('2026-11-22T01:02:03.456Z');

describe('AccessLog', () => {
  const logs: AccessLog[] = [];
  const make = (sink: { write(c: string): unknown }, options: Partial<ConstructorParameters<typeof AccessLog>[1]> = {}) => {
    const log = new AccessLog(sink, { name: 'surgeguard-proxy', pid: 42, now: () => FIXED_TIME, flushIntervalMs: 60_000, ...options });
    logs.push(log);
    return log;
  };
  afterEach(() => logs.splice(0).forEach((l) => l.close()));

  it('writes one JSON line per request with every field, shaped like the pino lines of the same process', () => {
    const sink = collector();
    const log = make(sink);
    log.write(entry());
    log.flush();
    expect(sink.writes).toHaveLength(1);
    const line = JSON.parse(sink.writes[0]);
    // every field of the entry (streamError is absent, so left out), inside pino's envelope
    const { streamError: _absent, ...fields } = entry();
    expect(line).toEqual({ level: 'info', time: '2026-11-22T01:02:03.456Z', pid: 42, name: 'surgeguard-proxy', ...fields, msg: 'request' });
    expect(Object.keys(line).slice(4, -1)).toEqual(Object.keys(fields));

    // the process's other lines (pino, createLogger) carry the same envelope
    let pinoLine = '';
    const pinoLogger = createLogger({ level: 'info', accessLog: true }, 'surgeguard-proxy', new Writable({ write: (c, _e, cb) => ((pinoLine = String(c)), cb()) }) as never);
    pinoLogger.info({ requestId: 'req-1' }, 'request');
    const fromPino = JSON.parse(pinoLine);
    expect(Object.keys(line).slice(0, 4)).toEqual(Object.keys(fromPino).slice(0, 4));
    expect(typeof fromPino.time).toBe('string');
    expect(new Date(fromPino.time).toISOString()).toBe(fromPino.time);
  });

  it('escapes whatever a client put in the strings it logs', () => {
    const sink = collector();
    const log = make(sink);
    const nasty = 'm"odel\n\\ \u2028 \u0000 ✓';
    log.write(entry({ model: nasty, path: '/v1/"x"', requestId: 'a\tb' }));
    log.flush();
    const line = JSON.parse(sink.writes[0]);
    expect(line.model).toBe(nasty);
    expect(line.path).toBe('/v1/"x"');
    expect(line.requestId).toBe('a\tb');
    expect(sink.writes[0].split('\n')).toHaveLength(2); // one line, then the terminating newline
  });

  it('leaves absent fields out and writes non-finite numbers as null', () => {
    const sink = collector();
    const log = make(sink);
    log.write(entry({ key: undefined, model: undefined, ttfbMs: undefined, streamError: 'deadline', durationMs: Number.NaN }));
    log.flush();
    const line = JSON.parse(sink.writes[0]);
    expect(line).not.toHaveProperty('key');
    expect(line).not.toHaveProperty('model');
    expect(line).not.toHaveProperty('ttfbMs');
    expect(line.streamError).toBe('deadline');
    expect(line.durationMs).toBeNull();
  });

  it('hands lines to the sink in batches: at the size limit, on flush, and nothing when there is nothing', () => {
    const sink = collector();
    const log = make(sink, { maxBatchChars: 1_000 });
    log.write(entry());
    log.write(entry({ requestId: 'req-2' }));
    expect(sink.writes).toHaveLength(0);
    for (let i = 0; sink.writes.length === 0; i++) log.write(entry({ requestId: `fill-${i}` }));
    expect(sink.writes[0].length).toBeGreaterThanOrEqual(1_000);
    const batch = sink.writes[0].trimEnd().split('\n').map((l) => JSON.parse(l).requestId);
    expect(batch.slice(0, 2)).toEqual(['req-1', 'req-2']);
    log.flush();
    log.flush();
    expect(sink.writes).toHaveLength(1);
  });

  it('flushes pending lines on its interval and when closed', async () => {
    const sink = collector();
    const log = make(sink, { flushIntervalMs: 20 });
    log.write(entry());
    await new Promise((r) => setTimeout(r, 80));
    expect(sink.writes).toHaveLength(1);
    log.write(entry({ requestId: 'last' }));
    log.close();
    expect(JSON.parse(sink.writes[1]).requestId).toBe('last');
  });

  it('formats the time of each line from the clock', () => {
    const sink = collector();
    let now = FIXED_TIME;
    const log = make(sink, { now: () => now });
    log.write(entry());
    now += 1_001;
    log.write(entry());
    log.flush();
    const times = sink.writes[0].trimEnd().split('\n').map((l) => JSON.parse(l).time);
    expect(times).toEqual(['2026-11-22T01:02:03.456Z', '2026-11-22T01:02:04.457Z']);
  });
});
