import { FakeClock } from '../../../../runtime/common/clock';
import { DrainMeter } from '../../../../runtime/proxy/admission/drain-meter';

/** Completion stamps the meter holds in memory (white-box on purpose: memory has no public figure). */
const held = (m: DrainMeter) => (m as unknown as { stamps: number[] }).stamps.length;

describe('DrainMeter', () => {
  it('knows nothing before a completion with a latency or minSamples completions', () => {
    const clock = new FakeClock(0);
    const m = new DrainMeter(clock, 5_000, 5);
    expect(m.ratePerSecond(10)).toBeUndefined();
    for (let i = 0; i < 4; i++) m.record();
    expect(m.ratePerSecond(10)).toBeUndefined();
    expect(m.meanLatencyMs).toBeUndefined();
  });

  it('measures completions per second once minSamples are in, over the time since it started while that is shorter than the window', () => {
    const clock = new FakeClock(10_000);
    const m = new DrainMeter(clock, 5_000, 5);
    clock.advance(2_000);
    for (let i = 0; i < 5; i++) m.record();
    expect(m.ratePerSecond(1)).toBe(2.5); // 5 in the 2 s since start
    clock.advance(8_000); // window full: the 5 stamps of t = 12 s have slid out at t = 17 s
    for (let i = 0; i < 10; i++) m.record();
    expect(m.ratePerSecond(1)).toBe(2); // 10 over the 5 s window
  });

  it('counts a completion exactly one window old as gone, one a millisecond younger as in', () => {
    const clock = new FakeClock(0);
    const m = new DrainMeter(clock, 1_000, 2);
    clock.advance(5_000);
    m.record();
    clock.advance(1);
    m.record();
    clock.advance(998); // t = 5999: both in
    expect(m.ratePerSecond(1)).toBe(2);
    clock.advance(1); // t = 6000: the first is exactly a window old
    expect(m.ratePerSecond(1)).toBeUndefined();
  });

  it('forgets completions that slid out of a partly slid window and keeps the newer ones', () => {
    const clock = new FakeClock(0);
    const m = new DrainMeter(clock, 1_000, 3);
    clock.advance(10_000);
    for (let i = 0; i < 3; i++) m.record();
    clock.advance(600);
    for (let i = 0; i < 3; i++) m.record();
    expect(m.ratePerSecond(1)).toBe(6);
    clock.advance(500); // t = 11.1 s: the first three are gone, the last three remain
    expect(m.ratePerSecond(1)).toBe(3);
  });

  it('keeps a correct count while trimming over a long surge (compaction of the stamps)', () => {
    const clock = new FakeClock(0);
    const m = new DrainMeter(clock, 1_000, 5);
    clock.advance(1_000);
    for (let t = 0; t < 5_000; t++) {
      m.record();
      m.record();
      clock.advance(1);
    }
    // 2 completions per ms; at t = 6000 the window (5000, 6000] holds those of 5001..5999,
    // whatever was compacted away before
    expect(m.ratePerSecond(1)).toBe(1_998);
  });

  it.each([
    [1, 1_000],
    [4, 4_000],
  ])('holds about a window of completions in memory over a long surge of %i per ms, even when nobody reads the rate', (perMs, inWindow) => {
    const clock = new FakeClock(0);
    const m = new DrainMeter(clock, 1_000, 5);
    for (let t = 0; t < 20_000; t++) {
      for (let i = 0; i < perMs; i++) m.record();
      clock.advance(1);
    }
    // 20 000 ms of completions: what is held is the window's plus at most as many expired ones
    // (or about a thousand for a small window) before they are dropped, not the whole surge
    expect(held(m)).toBeLessThanOrEqual(Math.max(2 * inWindow, inWindow + 1_025));
    expect(m.ratePerSecond(1)).toBe(inWindow - perMs); // the window (19 000, 20 000] holds 19 001..19 999
  });

  it('counts only the new completions after a quiet spell longer than the window', () => {
    const clock = new FakeClock(0);
    const m = new DrainMeter(clock, 1_000, 2);
    clock.advance(5_000);
    for (let i = 0; i < 3; i++) m.record();
    clock.advance(2_000);
    expect(m.ratePerSecond(1)).toBeUndefined(); // all three slid out
    m.record();
    m.record();
    expect(m.ratePerSecond(1)).toBe(2);
  });

  it('smooths latency with a 0.2 weight on the newest sample and ignores a missing or negative one', () => {
    const m = new DrainMeter(new FakeClock(0));
    m.record(100);
    expect(m.meanLatencyMs).toBe(100);
    m.record(200);
    expect(m.meanLatencyMs).toBe(120);
    m.record();
    m.record(-5);
    expect(m.meanLatencyMs).toBe(120);
    m.record(0);
    expect(m.meanLatencyMs).toBe(96);
  });

  it('estimates by Little\'s law before enough completions, and takes the larger of the two estimates', () => {
    const clock = new FakeClock(0);
    const m = new DrainMeter(clock, 5_000, 5);
    m.record(500);
    expect(m.ratePerSecond(4)).toBe(8); // 4 slots / 0.5 s
    clock.advance(1_000);
    for (let i = 0; i < 19; i++) m.record();
    expect(m.ratePerSecond(4)).toBe(20); // measured 20/s beats Little's 8/s
    expect(m.ratePerSecond(40)).toBe(80); // Little's 80/s beats measured 20/s
  });

  it('does not divide by a zero latency', () => {
    const m = new DrainMeter(new FakeClock(0));
    m.record(0);
    expect(m.ratePerSecond(4)).toBeUndefined();
  });
});
