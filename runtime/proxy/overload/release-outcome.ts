import type { DispatchResult } from '../../common/upstream/dispatcher';
import type { ReleaseOutcome } from '../admission/controller';

/** What an upstream attempt says about capacity, for the adaptive limit. */
export function releaseOutcome(result: DispatchResult, latencyMs: number, body?: 'complete' | 'error' | 'aborted'): ReleaseOutcome {
  if (result.ok) {
    if (result.statusCode === 429 || result.statusCode === 503) return { kind: 'overload', latencyMs };
    if (result.statusCode >= 500) return { kind: 'error', latencyMs };
    if (body === 'aborted') return { kind: 'cancelled' };
    return { kind: body === 'error' ? 'error' : 'success', latencyMs };
  }
  switch (result.reason) {
    case 'aborted':
    case 'request-error': // never sent: says nothing about the upstream
      return { kind: 'cancelled' };
    case 'deadline':
      return { kind: 'overload', latencyMs };
    case 'upstream-error':
      return { kind: result.lastErrorKind === 'timeout' ? 'overload' : 'error', latencyMs };
    default:
      return { kind: 'error', latencyMs };
  }
}
