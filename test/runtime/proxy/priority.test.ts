import { classifyRequest } from '../../../runtime/proxy/priority';

/** The class decision of a request (auth.ts passes the key's tier and maxClass). */
describe('classifyRequest', () => {
  it('reads X-Priority case-insensitively and ignoring surrounding spaces, the first of repeated headers', () => {
    expect(classifyRequest({ 'x-priority': '  High ' }, 'critical')).toEqual({ ok: true, priorityClass: 'high' });
    expect(classifyRequest({ 'x-priority': ['medium', 'critical'] } as never, 'critical')).toEqual({ ok: true, priorityClass: 'medium' });
  });

  it('takes X-Priority over X-Realtime, even when X-Priority asks for less', () => {
    expect(classifyRequest({ 'x-priority': 'low', 'x-realtime': 'true' }, 'critical')).toEqual({ ok: true, priorityClass: 'low' });
  });

  it('treats X-Realtime: true (any case, spaces, first value) as asking for critical, and any other value as no ask', () => {
    expect(classifyRequest({ 'x-realtime': ' TRUE ' }, 'medium', 'critical')).toEqual({ ok: true, priorityClass: 'critical' });
    expect(classifyRequest({ 'x-realtime': ['true', 'false'] } as never, 'medium', 'critical')).toEqual({ ok: true, priorityClass: 'critical' });
    expect(classifyRequest({ 'x-realtime': 'yes' }, 'medium', 'critical')).toEqual({ ok: true, priorityClass: 'medium' });
    expect(classifyRequest({ 'x-realtime': '1' }, 'low', 'critical')).toEqual({ ok: true, priorityClass: 'low' });
  });

  it('serves an ask exactly at maxClass as asked, without reporting it lowered', () => {
    expect(classifyRequest({ 'x-priority': 'high' }, 'low', 'high')).toEqual({ ok: true, priorityClass: 'high' });
    expect(classifyRequest({ 'x-priority': 'critical' }, 'critical')).toEqual({ ok: true, priorityClass: 'critical' });
  });

  it('caps an ask one class above maxClass at maxClass and reports what was asked', () => {
    expect(classifyRequest({ 'x-priority': 'high' }, 'low', 'medium')).toEqual({ ok: true, priorityClass: 'medium', lowered: 'high' });
  });

  it('uses the tier when nothing is asked, whatever maxClass allows', () => {
    expect(classifyRequest({}, 'low', 'critical')).toEqual({ ok: true, priorityClass: 'low' });
  });

  it('refuses an unknown X-Priority naming the accepted classes and the value received', () => {
    expect(classifyRequest({ 'x-priority': ' Urgent ' }, 'medium')).toEqual({ ok: false, message: 'X-Priority must be one of critical, high, medium, low; got "urgent".' });
    expect(classifyRequest({ 'x-priority': '' }, 'medium').ok).toBe(false);
  });
});
