import {
  MAX_CHOICES,
  badRequest,
  bodyReadFailureReply,
  jsonNestingDepth,
  parseJsonBody,
  parseRequestTimeoutHeader,
  requestBodyProblem,
} from '../../../runtime/proxy/request-validation';

const buf = (s: string) => Buffer.from(s, 'utf8');
const chat = (extra: Record<string, unknown> = {}) => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('jsonNestingDepth', () => {
  it('counts the deepest nesting of objects and arrays, not their number', () => {
    expect(jsonNestingDepth(buf('1'), 8)).toBe(0);
    expect(jsonNestingDepth(buf('{"a":[1,{"b":2}],"c":[]}'), 8)).toBe(3);
    expect(jsonNestingDepth(buf('[[]][[[]]]'), 8)).toBe(3);
  });

  it('counts an object closed as one level less, so sibling objects do not add up', () => {
    expect(jsonNestingDepth(buf('{"a":{},"b":{},"c":{"d":{}}}'), 8)).toBe(3);
    expect(jsonNestingDepth(buf('[{},{},{}]'), 2)).toBe(2);
  });

  it('accepts nesting exactly at the bound and answers Infinity one level past it', () => {
    expect(jsonNestingDepth(buf('[[[]]]'), 3)).toBe(3);
    expect(jsonNestingDepth(buf('[[[[]]]]'), 3)).toBe(Infinity);
  });

  it('skips brackets inside strings, escaped quotes included', () => {
    expect(jsonNestingDepth(buf('{"a":"[[[{{{"}'), 2)).toBe(1);
    expect(jsonNestingDepth(buf('{"a":"\\"[[[","b":"\\\\"}'), 2)).toBe(1);
    expect(jsonNestingDepth(buf('{"a":"\\\\","b":[[1]]}'), 8)).toBe(3); // the string ends after an escaped backslash
  });
});

describe('parseJsonBody', () => {
  it('returns the object of a valid body', () => {
    expect(parseJsonBody(buf('{"model":"m"}'), 4)).toEqual({ ok: true, json: { model: 'm' } });
  });

  it('refuses nesting past the bound before parsing, saying how deep is allowed', () => {
    expect(parseJsonBody(buf('{"a":[[1]]}'), 2)).toEqual({
      ok: false,
      problem: { message: 'Request body nests arrays/objects deeper than 2 levels.', code: 'json_too_deep', param: null },
    });
    expect(parseJsonBody(buf('{"a":[1]}'), 2).ok).toBe(true);
  });

  it('refuses text that is not JSON, and JSON that is not an object', () => {
    const notJson = parseJsonBody(buf('{"a":'), 4);
    expect(notJson.ok).toBe(false);
    if (!notJson.ok) expect(notJson.problem).toMatchObject({ code: 'invalid_json', param: null, message: expect.stringMatching(/^Request body is not valid JSON: /) });
    for (const text of ['[1]', 'null', '"s"', '3']) {
      expect(parseJsonBody(buf(text), 4)).toEqual({ ok: false, problem: { message: 'Request body must be a JSON object.', code: 'invalid_json', param: null } });
    }
  });
});

describe('requestBodyProblem', () => {
  it('accepts a minimal valid body on each endpoint', () => {
    expect(requestBodyProblem(chat(), '/v1/chat/completions')).toBeUndefined();
    expect(requestBodyProblem({ model: 'm', prompt: 'p' }, '/v1/completions')).toBeUndefined();
    expect(requestBodyProblem({ model: 'm', prompt: ['a'] }, '/v1/completions')).toBeUndefined();
    expect(requestBodyProblem({ model: 'm', input: 'x' }, '/v1/embeddings')).toBeUndefined();
    expect(requestBodyProblem({ model: 'm', input: [1, 2] }, '/v1/embeddings')).toBeUndefined();
  });

  it('requires a non-empty model name', () => {
    for (const model of [undefined, '', 3]) {
      expect(requestBodyProblem(chat({ model }), '/v1/chat/completions')).toEqual({ message: 'Missing required parameter: model.', code: 'missing_model', param: 'model' });
    }
  });

  it('accepts stream as a boolean or null and refuses anything else', () => {
    for (const stream of [true, false, null]) expect(requestBodyProblem(chat({ stream }), '/v1/chat/completions')).toBeUndefined();
    expect(requestBodyProblem(chat({ stream: 'true' }), '/v1/chat/completions')).toEqual({ message: '`stream` must be a boolean.', code: 'invalid_value', param: 'stream' });
  });

  it('accepts stream_options as an object or null and refuses arrays and scalars', () => {
    for (const o of [{ include_usage: true }, null]) expect(requestBodyProblem(chat({ stream_options: o }), '/v1/chat/completions')).toBeUndefined();
    for (const o of [[], 'x', 1]) {
      expect(requestBodyProblem(chat({ stream_options: o }), '/v1/chat/completions')).toEqual({ message: '`stream_options` must be an object.', code: 'invalid_value', param: 'stream_options' });
    }
  });

  it('accepts max_tokens and max_completion_tokens from 1 (or null) and refuses 0, fractions and strings', () => {
    for (const field of ['max_tokens', 'max_completion_tokens']) {
      for (const v of [1, 4096, null]) expect(requestBodyProblem(chat({ [field]: v }), '/v1/chat/completions')).toBeUndefined();
      for (const v of [0, -1, 1.5, '10']) {
        expect(requestBodyProblem(chat({ [field]: v }), '/v1/chat/completions')).toEqual({
          message: `\`${field}\` must be a positive integer; got ${JSON.stringify(v)}.`,
          code: 'invalid_value',
          param: field,
        });
      }
    }
  });

  it('accepts n from 1 to 128 and refuses 0 and 129', () => {
    for (const n of [1, MAX_CHOICES, null]) expect(requestBodyProblem(chat({ n }), '/v1/chat/completions')).toBeUndefined();
    expect(MAX_CHOICES).toBe(128);
    for (const n of [0, MAX_CHOICES + 1, 2.5]) {
      expect(requestBodyProblem(chat({ n }), '/v1/chat/completions')).toEqual({ message: `\`n\` must be an integer from 1 to 128; got ${n}.`, code: 'invalid_value', param: 'n' });
    }
  });

  it('requires chat messages as a non-empty array of objects, each with a role', () => {
    const problem = (messages: unknown) => requestBodyProblem(chat({ messages }), '/v1/chat/completions');
    expect(problem([])).toMatchObject({ param: 'messages' });
    expect(problem('hi')).toMatchObject({ param: 'messages', message: '`messages` must be a non-empty array of message objects.' });
    expect(problem([{ role: 'user' }, 'x'])).toEqual({ message: '`messages[1]` must be an object.', code: 'invalid_value', param: 'messages[1]' });
    expect(problem([null])).toMatchObject({ param: 'messages[0]' });
    expect(problem([[]])).toMatchObject({ param: 'messages[0]' });
    expect(problem([{ role: 'user' }, { role: '' }])).toEqual({ message: '`messages[1].role` must be a string.', code: 'invalid_value', param: 'messages[1].role' });
    expect(problem([{ content: 'x' }])).toMatchObject({ param: 'messages[0].role' });
  });

  it('requires a string or non-empty array prompt on completions and input on embeddings', () => {
    for (const prompt of [[], undefined, 3]) {
      expect(requestBodyProblem({ model: 'm', prompt }, '/v1/completions')).toEqual({ message: '`prompt` must be a string or a non-empty array.', code: 'invalid_value', param: 'prompt' });
    }
    for (const input of [[], undefined, {}]) {
      expect(requestBodyProblem({ model: 'm', input }, '/v1/embeddings')).toEqual({ message: '`input` must be a string or a non-empty array.', code: 'invalid_value', param: 'input' });
    }
  });
});

describe('parseRequestTimeoutHeader', () => {
  it('is fine when absent', () => {
    expect(parseRequestTimeoutHeader({})).toEqual({ ok: true, ms: undefined });
  });

  it('reads seconds (whole or fractional) and milliseconds or seconds with a unit', () => {
    expect(parseRequestTimeoutHeader({ 'x-request-timeout': '10' })).toEqual({ ok: true, ms: 10_000 });
    expect(parseRequestTimeoutHeader({ 'x-request-timeout': ' 2.5 ' })).toEqual({ ok: true, ms: 2_500 });
    expect(parseRequestTimeoutHeader({ 'x-request-timeout': '2500MS' })).toEqual({ ok: true, ms: 2_500 });
    expect(parseRequestTimeoutHeader({ 'x-request-timeout': '3s' })).toEqual({ ok: true, ms: 3_000 });
    expect(parseRequestTimeoutHeader({ 'x-request-timeout': '1ms' })).toEqual({ ok: true, ms: 1 });
    expect(parseRequestTimeoutHeader({ 'x-request-timeout': '0.125' })).toEqual({ ok: true, ms: 125 });
    expect(parseRequestTimeoutHeader({ 'x-request-timeout': '12.75ms' })).toEqual({ ok: true, ms: 12.75 });
    expect(parseRequestTimeoutHeader({ 'x-request-timeout': ['4', '9'] } as never)).toEqual({ ok: true, ms: 4_000 });
  });

  it('caps a timeout longer than a day at a day', () => {
    expect(parseRequestTimeoutHeader({ 'x-request-timeout': '86400' })).toEqual({ ok: true, ms: 86_400_000 });
    expect(parseRequestTimeoutHeader({ 'x-request-timeout': '86401' })).toEqual({ ok: true, ms: 86_400_000 });
  });

  it('refuses what is not a positive duration, quoting the value', () => {
    for (const v of ['0', '0.5ms', '-1', 'abc', '1h', '']) {
      const r = parseRequestTimeoutHeader({ 'x-request-timeout': v });
      expect(r.ok).toBe(false);
    }
    expect(parseRequestTimeoutHeader({ 'x-request-timeout': 'Soon' })).toEqual({
      ok: false,
      message: 'X-Request-Timeout must be a positive duration in seconds (`10`, `2.5`) or milliseconds (`2500ms`); got "soon".',
    });
  });
});

describe('replies to refused bodies', () => {
  it('answers 400 with the OpenAI error shape', () => {
    expect(badRequest({ message: 'no', code: 'invalid_value', param: 'n' })).toEqual({
      status: 400,
      body: { error: { message: 'no', type: 'invalid_request_error', param: 'n', code: 'invalid_value' } },
    });
  });

  it('answers an unread body with its status, a code per status, and the connection closed', () => {
    const reply = (status: 408 | 413 | 400) => bodyReadFailureReply({ ok: false, status, message: 'm' });
    expect(reply(413)).toEqual({ status: 413, headers: { connection: 'close' }, body: { error: { message: 'm', type: 'invalid_request_error', param: null, code: 'request_too_large' } } });
    expect(reply(408).body).toMatchObject({ error: { code: 'request_timeout' } });
    expect(reply(400)).toMatchObject({ status: 400, headers: { connection: 'close' }, body: { error: { code: 'invalid_body' } } });
  });
});
