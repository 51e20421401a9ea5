import { HealthState } from '../../../../runtime/common/upstream/health-state';

describe('HealthState', () => {
  it('starts healthy and turns unhealthy only after the threshold of consecutive failed probes', () => {
    const h = new HealthState(3, 2);
    expect(h.healthy).toBe(true);
    expect(h.record(false)).toBe(false);
    expect(h.record(false)).toBe(false);
    expect(h.record(true)).toBe(false);
    expect(h.record(false)).toBe(false);
    expect(h.record(false)).toBe(false);
    expect(h.healthy).toBe(true);
    expect(h.record(false)).toBe(true);
    expect(h.healthy).toBe(false);
  });

  it('needs the healthy threshold of good probes in a row to return', () => {
    const h = new HealthState(1, 2);
    h.record(false);
    expect(h.healthy).toBe(false);
    expect(h.record(true)).toBe(false);
    expect(h.record(false)).toBe(false);
    expect(h.record(true)).toBe(false);
    expect(h.record(true)).toBe(true);
    expect(h.healthy).toBe(true);
  });

  it('goes down at once on passive evidence (markDown) and needs the healthy threshold of good probes to come back', () => {
    const h = new HealthState(3, 2);
    h.record(false); // a failed probe in the streak is forgotten: the member is down now
    expect(h.markDown()).toBe(true);
    expect(h.healthy).toBe(false);
    expect(h.markDown()).toBe(false);
    expect(h.record(true)).toBe(false);
    expect(h.healthy).toBe(false);
    expect(h.record(true)).toBe(true);
    expect(h.healthy).toBe(true);
  });
});
