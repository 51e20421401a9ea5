import { cacheability, canonicalJson, requestCacheKey } from '../../../../runtime/proxy/cache/request-key';

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

  it('keeps a missing API key apart from every real one, and apart from the shared scope', () => {
    const body = { a: 1 };
    const anonymous = requestCacheKey({ path: '/v1/chat/completions', body, shareAcrossKeys: false });
    expect(anonymous).not.toBe(key(body, 'k1'));
    expect(anonymous).not.toBe(key(body, 'k1', true));
    expect(anonymous).toBe(requestCacheKey({ path: '/v1/chat/completions', body, apiKey: '', shareAcrossKeys: false }));
  });

  it('tells apart values that differ only in type', () => {
    expect(key({ n: 1 })).not.toBe(key({ n: '1' }));
    expect(key({ stop: [] })).not.toBe(key({ stop: {} }));
    expect(key({ flag: true })).not.toBe(key({ flag: 'true' }));
  });

  it('writes scalars, empty containers and nested arrays as JSON', () => {
    expect(canonicalJson({ s: 'a"b', n: 1.5, t: true, e: [], o: {}, u: undefined, z: [[1], [2, [3]]] })).toBe('{"e":[],"n":1.5,"o":{},"s":"a\\"b","t":true,"z":[[1],[2,[3]]]}');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson([undefined, 1])).toBe('[null,1]');
  });
});

describe('cacheability', () => {
  const body = { model: 'm', temperature: 0 };

  it('reads every opt-out synonym of the header, in any case and with spaces', () => {
    for (const v of ['off', ' NO ', 'False']) expect(cacheability(body, v)).toEqual({ cacheable: false, reason: 'opt_out' });
  });

  it('reads every opt-in synonym of the header, in any case and with spaces, even for sampled requests', () => {
    for (const v of ['on', ' Yes', 'TRUE', 'force']) expect(cacheability({ ...body, temperature: 0.9 }, v)).toEqual({ cacheable: true, reason: 'opt_in' });
  });

  it('decides by temperature when the header is absent or says something else', () => {
    expect(cacheability(body, 'maybe')).toEqual({ cacheable: true, reason: 'deterministic' });
    expect(cacheability({ ...body, temperature: 0.9 }, 'maybe')).toEqual({ cacheable: false, reason: 'sampling' });
    expect(cacheability({ ...body, temperature: '0' }, undefined)).toEqual({ cacheable: false, reason: 'sampling' });
  });

  it('never caches a stream, and opts out before it looks at the body', () => {
    expect(cacheability({ ...body, stream: true }, undefined)).toEqual({ cacheable: false, reason: 'streaming' });
    expect(cacheability({ ...body, stream: false }, undefined)).toEqual({ cacheable: true, reason: 'deterministic' });
    expect(cacheability(null, 'off')).toEqual({ cacheable: false, reason: 'opt_out' });
  });

  it('does not cache a body that is not a JSON object', () => {
    for (const b of [null, [body], 'text', 3]) expect(cacheability(b, 'on')).toEqual({ cacheable: false, reason: 'not_json' });
  });
});
