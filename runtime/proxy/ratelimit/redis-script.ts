import { createHash } from 'node:crypto';

/**
 * One atomic decision on one bucket key (a hash with fields r = request tokens, k = model
 * tokens, t = last update in ms of Redis server TIME). The same arithmetic as
 * `token-bucket.ts`: refill, admit if min(cost, burst) is available, allow debt, cap at burst.
 * Time comes from the Redis server, so replicas with skewed clocks share one timeline; Redis 7
 * replicates scripts by effects, so calling TIME in a writing script is safe.
 *
 * KEYS[1]  bucket key
 * ARGV     rRate rBurst rCost kRate kBurst kCost mode   (kRate 0 = no token bucket;
 *          mode "take" decides, "adjust" applies a token correction kCost without deciding)
 * returns  { allowed (0/1), requests left (string), tokens left (string), retry after ms }
 */
export const TOKEN_BUCKET_LUA = `
local key = KEYS[1]
local rRate, rBurst, rCost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local kRate, kBurst, kCost = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local mode = ARGV[7]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', key, 'r', 'k', 't')
local r = tonumber(s[1]) or rBurst
local k = tonumber(s[2]) or kBurst
local last = tonumber(s[3]) or now
local elapsed = math.max(0, now - last)
r = math.min(rBurst, r + elapsed * rRate / 1000)
if kRate > 0 then k = math.min(kBurst, k + elapsed * kRate / 1000) end
local allowed = 1
local wait = 0
if mode == 'adjust' then
  if kRate > 0 then k = math.min(kBurst, k - kCost) end
else
  local rNeed = math.min(rCost, rBurst)
  if r < rNeed then
    allowed = 0
    wait = (rNeed - r) * 1000 / rRate
  end
  if kRate > 0 then
    local kNeed = math.min(kCost, kBurst)
    if k < kNeed then
      allowed = 0
      wait = math.max(wait, (kNeed - k) * 1000 / kRate)
    end
  end
  if allowed == 1 then
    r = r - rCost
    if kRate > 0 then k = k - kCost end
  end
end
-- Keep the key only until both buckets would be full again: an absent key means "full".
local full = (rBurst - r) / rRate
if kRate > 0 then full = math.max(full, (kBurst - k) / kRate) end
redis.call('HSET', key, 'r', tostring(r), 'k', tostring(k), 't', tostring(now))
redis.call('PEXPIRE', key, math.ceil(full * 1000) + 1000)
return { allowed, tostring(r), tostring(k), math.ceil(wait) }
`;

export const TOKEN_BUCKET_SHA = createHash('sha1').update(TOKEN_BUCKET_LUA).digest('hex');

/**
 * The subset of an ioredis client (standalone `Redis` or `Cluster`) the limiter uses. With a
 * Cluster, both commands are routed by the single key, so the script runs where the bucket is.
 */
export interface ScriptRunner {
  evalsha(sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

export interface ScriptArgs {
  readonly rRate: number;
  readonly rBurst: number;
  readonly rCost: number;
  readonly kRate: number;
  readonly kBurst: number;
  readonly kCost: number;
  readonly mode: 'take' | 'adjust';
}

export interface ScriptResult {
  readonly allowed: boolean;
  readonly requestsLeft: number;
  readonly tokensLeft: number;
  readonly retryAfterMs: number;
}

/**
 * Runs the script by SHA; on NOSCRIPT (a restarted or failed-over node lost its script cache)
 * sends the body with EVAL, which runs it and caches it again on that node.
 */
export async function runTokenBucket(redis: ScriptRunner, key: string, a: ScriptArgs): Promise<ScriptResult> {
  const args = [a.rRate, a.rBurst, a.rCost, a.kRate, a.kBurst, a.kCost, a.mode];
  let raw: unknown;
  try {
    raw = await redis.evalsha(TOKEN_BUCKET_SHA, 1, key, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    raw = await redis.eval(TOKEN_BUCKET_LUA, 1, key, ...args);
  }
  const [allowed, r, k, wait] = raw as [number, string, string, number];
  return { allowed: allowed === 1, requestsLeft: Number(r), tokensLeft: Number(k), retryAfterMs: Number(wait) };
}
