import { createHash, timingSafeEqual } from 'node:crypto';
import { PriorityClass } from '../../contract/priority';
import { resolveSecret } from '../common/config/secrets';
import { AuthConfig } from './config';
import type { BucketLimit } from './ratelimit/config';

/** Who sent a request, as far as the proxy knows. */
export interface ApiKeyIdentity {
  /** Configured key name (logs, metrics, default user key). Never the key itself. */
  readonly name: string;
  /** Priority class of the key's requests when no header asks for another. */
  readonly tier: PriorityClass;
  /** Highest class the key may ask for (X-Priority / X-Realtime); higher asks are lowered to it. */
  readonly maxClass: PriorityClass;
  /** The key's own request limit over all its classes, `none` (not limited), or undefined: the class limits of `rateLimit.requests`. */
  readonly rateLimit?: BucketLimit | 'none';
  /** Served by the first pool of the route only (a request another region spilled here). */
  readonly firstPoolOnly?: boolean;
}

export type AuthResult =
  | { readonly ok: true; readonly identity: ApiKeyIdentity | undefined }
  | { readonly ok: false; readonly message: string };

/** SHA-256 hex of a key, as stored in the config. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Bearer-key authentication against SHA-256 hashes. The presented key is hashed and compared
 * with every configured hash in constant time (no early exit), so neither the comparison nor
 * the position of a matching key leaks through timing. `auth: none` accepts everything.
 */
export class KeyAuthenticator {
  private readonly keys: { hash: Buffer; identity: ApiKeyIdentity }[];
  private readonly open: boolean;

  /** Throws naming the field when a key's `key.fromEnv` variable is not set. */
  constructor(config: AuthConfig, env: NodeJS.ProcessEnv = process.env) {
    this.open = config === 'none';
    this.keys =
      config === 'none'
        ? []
        : config.keys.map((k, i) => ({
            hash: Buffer.from(k.sha256 ?? hashApiKey(resolveSecret(k.key!, env, `auth.keys[${i}].key`)), 'hex'),
            identity: { name: k.name, tier: k.tier, maxClass: k.maxClass ?? k.tier, ...(k.rateLimit ? { rateLimit: k.rateLimit } : {}), ...(k.firstPoolOnly ? { firstPoolOnly: true } : {}) },
          }));
  }

  authenticate(authorization: string | undefined): AuthResult {
    if (this.open) return { ok: true, identity: undefined };
    if (!authorization) return { ok: false, message: 'Missing API key: send "Authorization: Bearer <key>".' };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) return { ok: false, message: 'Malformed Authorization header: expected "Bearer <key>".' };
    const presented = createHash('sha256').update(match[1], 'utf8').digest();
    let found: ApiKeyIdentity | undefined;
    for (const k of this.keys) {
      if (timingSafeEqual(presented, k.hash) && found === undefined) found = k.identity;
    }
    return found ? { ok: true, identity: found } : { ok: false, message: 'Invalid API key.' };
  }
}
