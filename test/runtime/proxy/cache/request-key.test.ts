import { canonicalJson, requestCacheKey } from '../../../../runtime/proxy/cache/request-key';

const key = (body: Record<string, unknown>, apiKey = 'k1', shareAcrossKeys = false) => requestCacheKey({ path: '/v1/chat/completions', body, apiKey, shareAcrossKeys });

describe('request cache key', () => {
  it('keeps the element boundaries of arrays: [1,23] and [12,3] are different requests', () => {
    expect(canonicalJson([1, 23])).toBe('[1,23]');
    expect(key({ stop: [1, 23] })).not.toBe(key({ stop: [12, 3] }));
    expect(key({ stop: ['a,b'] })).not.toBe(key({ stop: ['a', 'b'] }));
  });

  it('keeps the order of array elements (messages are a conversation, not a set)', () => {
    const m1 = { role: 'user', content: 'a' };
    const m2 = { role: 'user', content: 'b' };
    expect(key({ messages: [m1, m2] })).not.toBe(key({ messages: [m2, m1] }));
  });

  it('ignores object key order and null members at any depth', () => {
    expect(key({ a: 1, b: { c: 2, d: null } })).toBe(key({ b: { c: 2 }, a: 1 }));
    expect(canonicalJson({ b: 1, a: [null, { y: 2, x: 1 }] })).toBe('{"a":[null,{"x":1,"y":2}],"b":1}');
  });

  it('ignores fields that do not change the answer, and keeps unknown ones', () => {
    const base = { model: 'm', temperature: 0 };
    for (const field of ['stream', 'stream_options', 'user', 'metadata', 'store', 'service_tier', 'safety_identifier']) {
      expect(key({ ...base, [field]: 'x' })).toBe(key(base));
    }
    expect(key({ ...base, top_k: 5 })).not.toBe(key(base));
  });

  it('scopes the key to the API key unless answers are shared, and to the path', () => {
    expect(key({ a: 1 }, 'k1')).not.toBe(key({ a: 1 }, 'k2'));
    expect(key({ a: 1 }, 'k1', true)).toBe(key({ a: 1 }, 'k2', true));
    expect(requestCacheKey({ path: '/v1/completions', body: { a: 1 }, apiKey: 'k1', shareAcrossKeys: false })).not.toBe(key({ a: 1 }));
  });
});
