import { describeSilence, GaugeWatch, SILENT_MIN_ANSWERS, SILENT_MIN_SPAN_MS, type SilentReason } from '../../../../runtime/proxy/admission/gauge-watch';
import type { ScrapeAnswer } from '../../../../runtime/proxy/admission/saturation';

const noGauges: ScrapeAnswer = { kind: 'metrics', missing: ['vllm:num_requests_running', 'vllm:num_requests_waiting'] };
const noRunning: ScrapeAnswer = { kind: 'metrics', missing: ['vllm:num_requests_running'] };
const gauges: ScrapeAnswer = { kind: 'metrics', missing: [] };
const notFound: ScrapeAnswer = { kind: 'status', status: 404 };
const unreachable: ScrapeAnswer = { kind: 'unreachable' };

/** A watch over string members with what it told, in order. */
function watch(opts: { minAnswers?: number; minSpanMs?: number } = {}) {
  const told: string[] = [];
  const reasons: SilentReason[] = [];
  const since: number[] = [];
  const counts: number[] = [];
  const w = new GaugeWatch<string>({
    ...opts,
    onSilent: (m, r, s) => {
      told.push(`silent ${m}`);
      reasons.push(r);
      since.push(s);
    },
    onSpeaks: (m) => told.push(`speaks ${m}`),
    onCount: (n) => counts.push(n),
  });
  return { w, told, reasons, since, counts };
}

/** `member` answers `answer` every `everyMs` from `from` for `times` scrapes; answers the time after the last. */
function answer(w: GaugeWatch<string>, member: string, a: ScrapeAnswer, from: number, times: number, everyMs = 1_000): number {
  for (let i = 0; i < times; i++) w.observe(member, a, from + i * everyMs);
  return from + times * everyMs;
}

describe('GaugeWatch', () => {
  it('reports a member once it has answered without the gauges for 30 s, once, not per scrape', () => {
    expect(SILENT_MIN_SPAN_MS).toBe(30_000);
    const { w, told, reasons, since, counts } = watch();
    // scrapes at 0 s .. 29 s: 30 answers over 29 s, not yet
    let t = answer(w, 'a', noGauges, 0, 30);
    expect(told).toEqual([]);
    expect(w.count).toBe(0);
    expect(w.isSilent('a')).toBe(false);
    // the scrape at 30 s: 30 s since the first
    w.observe('a', noGauges, t);
    expect(told).toEqual(['silent a']);
    expect(reasons).toEqual([{ missing: ['vllm:num_requests_running', 'vllm:num_requests_waiting'] }]);
    expect(since).toEqual([0]);
    expect(counts).toEqual([1]);
    expect(w.count).toBe(1);
    expect(w.isSilent('a')).toBe(true);
    t = answer(w, 'a', noGauges, t + 1_000, 100);
    expect(told).toEqual(['silent a']);
    expect(counts).toEqual([1]);
  });

  it('needs a few answers as well as the time, so that a long scrape interval does not report a member on its second answer', () => {
    expect(SILENT_MIN_ANSWERS).toBe(3);
    const { w, told } = watch();
    w.observe('a', noGauges, 0);
    w.observe('a', noGauges, 60_000);
    expect(told).toEqual([]);
    w.observe('a', noGauges, 120_000);
    expect(told).toEqual(['silent a']);
  });

  it('counts an answer other than 200 (no /metrics) and reports its status', () => {
    const { w, told, reasons } = watch();
    answer(w, 'a', notFound, 0, 31);
    expect(told).toEqual(['silent a']);
    expect(reasons).toEqual([{ status: 404 }]);
    expect(describeSilence(reasons[0])).toBe('HTTP 404');
  });

  it('counts one gauge missing as missing (running alone cannot tell a member that queues full from idle, waiting alone gives no slots)', () => {
    const { w, reasons } = watch();
    answer(w, 'a', noRunning, 0, 31);
    expect(reasons).toEqual([{ missing: ['vllm:num_requests_running'] }]);
    expect(describeSilence({ missing: ['vllm:num_requests_running', 'vllm:num_requests_waiting'] })).toBe('no vllm:num_requests_running, no vllm:num_requests_waiting');
  });

  it('reports the answer of the scrape that crossed the threshold when the member answered both ways', () => {
    const { w, reasons } = watch();
    let t = answer(w, 'a', notFound, 0, 10);
    t = answer(w, 'a', noGauges, t, 21);
    expect(reasons).toEqual([{ missing: ['vllm:num_requests_running', 'vllm:num_requests_waiting'] }]);
    expect(t).toBe(31_000);
  });

  it('neither counts nor clears a scrape that got no answer: a member that is down is a health matter', () => {
    const { w, told } = watch();
    // down all along: never reported
    answer(w, 'a', unreachable, 0, 100);
    expect(told).toEqual([]);
    // answering without the gauges from 100 s, down from 110 s to 125 s: the stretch goes on
    let t = answer(w, 'b', noGauges, 100_000, 10);
    t = answer(w, 'b', unreachable, t, 15);
    expect(told).toEqual([]);
    w.observe('b', noGauges, t); // 125 s: only 11 answers, but 25 s since the first
    expect(told).toEqual([]);
    w.observe('b', noGauges, 130_000);
    expect(told).toEqual(['silent b']);
    // down again after being reported: still reported
    answer(w, 'b', unreachable, 131_000, 5);
    expect(w.isSilent('b')).toBe(true);
  });

  it('clears a member that exports the gauges later, and reports it again only after a new stretch', () => {
    const { w, told, counts } = watch();
    let t = answer(w, 'a', noGauges, 0, 31);
    expect(w.count).toBe(1);
    w.observe('a', gauges, t);
    expect(told).toEqual(['silent a', 'speaks a']);
    expect(counts).toEqual([1, 0]);
    expect(w.count).toBe(0);
    expect(w.isSilent('a')).toBe(false);
    // silent again: a new 30 s stretch from its first answer without them
    t = answer(w, 'a', noGauges, t + 1_000, 30);
    expect(told).toEqual(['silent a', 'speaks a']);
    w.observe('a', noGauges, t);
    expect(told).toEqual(['silent a', 'speaks a', 'silent a']);
    expect(counts).toEqual([1, 0, 1]);
  });

  it('restarts the stretch when the gauges appear before the member was reported, telling nothing', () => {
    const { w, told, counts } = watch();
    let t = answer(w, 'a', noGauges, 0, 20);
    w.observe('a', gauges, t);
    t = answer(w, 'a', noGauges, t + 1_000, 30);
    expect(told).toEqual([]);
    expect(counts).toEqual([]);
    w.observe('a', noGauges, t);
    expect(told).toEqual(['silent a']);
    // a member that always exported them is never told of
    answer(w, 'b', gauges, 0, 100);
    expect(told).toEqual(['silent a']);
  });

  it('counts each member reported, and forgets the members that are gone', () => {
    const { w, told, counts } = watch();
    for (const m of ['a', 'b', 'c']) answer(w, m, noGauges, 0, 31);
    answer(w, 'd', noGauges, 0, 10); // not reported yet
    expect(w.count).toBe(3);
    expect(counts).toEqual([1, 2, 3]);
    w.retain(['a', 'c', 'd']);
    expect(w.count).toBe(2);
    expect(counts).toEqual([1, 2, 3, 2]);
    // a member gone without being reported changes no count
    w.retain(['a', 'c']);
    expect(counts).toEqual([1, 2, 3, 2]);
    // b comes back (a new member of the same name would be a new object): a new stretch
    w.observe('b', noGauges, 40_000);
    expect(w.isSilent('b')).toBe(false);
    expect(told).toEqual(['silent a', 'silent b', 'silent c']);
    w.retain([]);
    expect(w.count).toBe(0);
    expect(counts.at(-1)).toBe(0);
  });

  it('takes its threshold from its options', () => {
    const { w, told } = watch({ minAnswers: 2, minSpanMs: 5_000 });
    answer(w, 'a', noGauges, 0, 5);
    expect(told).toEqual([]);
    w.observe('a', noGauges, 5_000);
    expect(told).toEqual(['silent a']);
  });
});
