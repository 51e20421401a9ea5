import { CanaryConfigSchema, CanaryRouter, canaryPoint } from '../../../runtime/proxy/canary';

const router = new CanaryRouter(
  CanaryConfigSchema.parse({
    models: {
      'deepseek-chat': [
        { pool: 'stable', weight: 90 },
        { pool: 'canary-a', weight: 5, variant: 'v2-a' },
        { pool: 'canary-b', weight: 5, variant: 'v2-b' },
      ],
    },
  }),
);

describe('CanaryRouter', () => {
  it('keeps a user on the same version across calls and instances', () => {
    const other = new CanaryRouter(router.cfg);
    for (let i = 0; i < 100; i++) expect(other.pick('deepseek-chat', `user-${i}`)).toEqual(router.pick('deepseek-chat', `user-${i}`));
  });

  it('splits users 90/5/5 by weight', () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 20_000; i++) {
      const c = router.pick('deepseek-chat', `user-${i}`)!;
      counts[c.variant] = (counts[c.variant] ?? 0) + 1;
    }
    expect(counts.stable / 20_000).toBeCloseTo(0.9, 1);
    expect(Math.abs(counts['v2-a'] / 20_000 - 0.05)).toBeLessThan(0.01);
    expect(Math.abs(counts['v2-b'] / 20_000 - 0.05)).toBeLessThan(0.01);
  });

  it('does not split models without a canary entry', () => {
    expect(router.pick('other-model', 'u')).toBeUndefined();
  });

  it('puts a user in independent cohorts for different models', () => {
    expect(canaryPoint('a', 'u')).not.toBe(canaryPoint('b', 'u'));
    expect(canaryPoint('a', 'u')).toBeGreaterThanOrEqual(0);
    expect(canaryPoint('a', 'u')).toBeLessThan(1);
  });

  it('rejects a split in which no target has weight', () => {
    expect(() => CanaryConfigSchema.parse({ models: { m: [{ pool: 'p', weight: 0 }] } })).toThrow(/positive weight/);
  });
});
