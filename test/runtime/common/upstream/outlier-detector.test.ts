import { FakeClock } from '../../../../runtime/common/clock';
import { OutlierDetectionSchema } from '../../../../runtime/common/config/upstream';
import { OutlierDetector, OutlierTarget } from '../../../../runtime/common/upstream/outlier-detector';

function member(healthy = true): OutlierTarget {
  return { consecutiveFailures: 0, ejectedUntil: 0, timesEjected: 0, healthy };
}

describe('OutlierDetector', () => {
  it('ejects after 5 consecutive failures for 30 s, then lets the upstream back', () => {
    const clock = new FakeClock(1_000);
    const members = [member(), member()];
    const d = new OutlierDetector(OutlierDetectionSchema.parse({}), members, clock);
    for (let i = 0; i < 4; i++) expect(d.onFailure(members[0])).toBe(false);
    expect(d.onFailure(members[0])).toBe(true);
    expect(d.isEjected(members[0])).toBe(true);
    clock.advance(29_999);
    expect(d.isEjected(members[0])).toBe(true);
    clock.advance(1);
    expect(d.isEjected(members[0])).toBe(false);
  });

  it('resets the count on success', () => {
    const members = [member(), member()];
    const d = new OutlierDetector(OutlierDetectionSchema.parse({}), members, new FakeClock());
    for (let i = 0; i < 4; i++) d.onFailure(members[0]);
    d.onSuccess(members[0]);
    for (let i = 0; i < 4; i++) expect(d.onFailure(members[0])).toBe(false);
  });

  it('multiplies the ejection time by the number of ejections, up to the maximum', () => {
    const clock = new FakeClock(0);
    const members = [member(), member()];
    const d = new OutlierDetector(OutlierDetectionSchema.parse({ consecutiveFailures: 1, baseEjectionMs: 30_000, maxEjectionMs: 70_000 }), members, clock);
    d.onFailure(members[0]);
    expect(members[0].ejectedUntil).toBe(30_000);
    clock.set(30_000);
    d.onFailure(members[0]);
    expect(members[0].ejectedUntil).toBe(90_000);
    clock.set(90_000);
    d.onFailure(members[0]);
    expect(members[0].ejectedUntil).toBe(160_000);
  });

  it('never ejects more than the maximum share of the pool', () => {
    const members = [member(), member(), member(), member()];
    const d = new OutlierDetector(OutlierDetectionSchema.parse({ consecutiveFailures: 1, maxEjectionPercent: 50 }), members, new FakeClock());
    expect(members.map((m) => d.onFailure(m))).toEqual([true, true, false, false]);
  });

  it('never ejects the last available upstream, unhealthy members counting as unavailable', () => {
    const single = [member()];
    const d1 = new OutlierDetector(OutlierDetectionSchema.parse({ consecutiveFailures: 1, maxEjectionPercent: 100 }), single, new FakeClock());
    expect(d1.onFailure(single[0])).toBe(false);
    const pair = [member(), member(false)];
    const d2 = new OutlierDetector(OutlierDetectionSchema.parse({ consecutiveFailures: 1, maxEjectionPercent: 100 }), pair, new FakeClock());
    expect(d2.onFailure(pair[0])).toBe(false);
  });
});
