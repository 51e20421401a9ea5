import { KeyAuthenticator, hashApiKey } from '../../../runtime/proxy/auth';
import { classifyRequest } from '../../../runtime/proxy/priority';

describe('KeyAuthenticator', () => {
  const auth = new KeyAuthenticator({ keys: [{ name: 'a', sha256: hashApiKey('key-a'), tier: 'high' }, { name: 'b', sha256: hashApiKey('key-b'), tier: 'low' }] });

  it('identifies a configured key by its hash, with name and tier', () => {
    expect(auth.authenticate('Bearer key-b')).toEqual({ ok: true, identity: { name: 'b', tier: 'low', maxClass: 'low' } });
    expect(auth.authenticate('bearer   key-a ')).toEqual({ ok: true, identity: { name: 'a', tier: 'high', maxClass: 'high' } });
  });

  it('refuses missing, malformed and unknown keys', () => {
    expect(auth.authenticate(undefined).ok).toBe(false);
    expect(auth.authenticate('key-a').ok).toBe(false);
    expect(auth.authenticate('Bearer key-c').ok).toBe(false);
    expect(auth.authenticate('Bearer KEY-A').ok).toBe(false);
  });

  it('accepts anything without identity when auth is none', () => {
    expect(new KeyAuthenticator('none').authenticate(undefined)).toEqual({ ok: true, identity: undefined });
  });
});

describe('classifyRequest', () => {
  it('takes X-Priority first, then X-Realtime, then the key tier', () => {
    expect(classifyRequest({ 'x-priority': 'LOW', 'x-realtime': 'true' }, 'high')).toEqual({ ok: true, priorityClass: 'low' });
    expect(classifyRequest({ 'x-realtime': 'true' }, 'low', 'critical')).toEqual({ ok: true, priorityClass: 'critical' });
    expect(classifyRequest({ 'x-realtime': 'false' }, 'low')).toEqual({ ok: true, priorityClass: 'low' });
    expect(classifyRequest({}, 'medium')).toEqual({ ok: true, priorityClass: 'medium' });
  });

  it('rejects an unknown X-Priority value', () => {
    expect(classifyRequest({ 'x-priority': 'urgent' }, 'medium').ok).toBe(false);
  });
});
