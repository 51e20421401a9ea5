/**
 * Estimates the model tokens a chat or completion request may consume before it is sent:
 * prompt characters / 4 (the usual rule of thumb for BPE tokenisers) plus `max_tokens` (or the
 * configured default). The estimate is corrected by the `usage` the upstream reports.
 */
export function estimateRequestTokens(body: unknown, defaultMaxTokens: number): number {
  if (typeof body !== 'object' || body === null) return defaultMaxTokens;
  const b = body as Record<string, unknown>;
  let chars = 0;
  const add = (v: unknown): void => {
    if (typeof v === 'string') chars += v.length;
    else if (Array.isArray(v)) v.forEach(add);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      add(o.content);
      add(o.text);
    }
  };
  add(b.messages);
  add(b.prompt);
  const max = typeof b.max_completion_tokens === 'number' ? b.max_completion_tokens : typeof b.max_tokens === 'number' ? b.max_tokens : defaultMaxTokens;
  return Math.ceil(chars / 4) + Math.max(0, Math.floor(max));
}

/** Total tokens from an OpenAI-style `usage` object, if present. */
export function reportedUsage(body: unknown): number | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const usage = (body as { usage?: { total_tokens?: unknown; prompt_tokens?: unknown; completion_tokens?: unknown } }).usage;
  if (!usage) return undefined;
  if (typeof usage.total_tokens === 'number') return usage.total_tokens;
  if (typeof usage.prompt_tokens === 'number' && typeof usage.completion_tokens === 'number') return usage.prompt_tokens + usage.completion_tokens;
  return undefined;
}
