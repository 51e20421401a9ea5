/**
 * OpenAI-style error bodies: `{ "error": { "message", "type", "param", "code" } }`, which the
 * OpenAI SDKs parse into typed exceptions.
 */
export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable'
  | 'timeout';

export interface OpenAIErrorBody {
  readonly error: { readonly message: string; readonly type: OpenAIErrorType; readonly param: string | null; readonly code: string | null };
}

export function openAIError(message: string, type: OpenAIErrorType, code: string | null = null, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

/** An SSE event carrying an error, sent when a stream fails after it started. */
export function sseErrorEvent(message: string, code = 'upstream_error'): string {
  return `data: ${JSON.stringify(openAIError(message, 'server_error', code))}\n\n`;
}
