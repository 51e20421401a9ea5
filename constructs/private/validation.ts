import { Token } from 'cdktf';

/**
 * Retention values CloudWatch Logs accepts.
 * @see https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
 */
export const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/**
 * True when `value` is (or holds) a token Terraform resolves only at plan/apply time — a variable,
 * another resource's attribute — so construction-time checks cannot judge it and must let it pass.
 */
export function isUnresolved(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (Array.isArray(value)) return Token.isUnresolved(value) || value.some((v) => isUnresolved(v));
  return Token.isUnresolved(value);
}

/**
 * Validation of a construct's props at construction, in one error format:
 * `${Construct} ${id}: ${prop} ${problem}` (e.g. `RedisCluster Redis: shards must be ...`).
 * Every check skips values that are unresolved tokens (see {@link isUnresolved}).
 */
export class PropsValidator {
  /**
   * @param construct class name of the construct (`RedisCluster`)
   * @param id the construct's id
   * @param prefix prepended to every prop name (`proxy.` for a nested props object)
   */
  constructor(
    public readonly construct: string,
    public readonly id: string,
    private readonly prefix = '',
  ) {}

  /** A validator for a nested props object: its props are named `<prefix>.<prop>`. */
  public nested(prefix: string): PropsValidator {
    return new PropsValidator(this.construct, this.id, `${this.prefix}${prefix}.`);
  }

  /** Throws the construct's error about `prop`. */
  public fail(prop: string, problem: string): never {
    throw new Error(`${this.construct} ${this.id}: ${this.prefix}${prop} ${problem}`);
  }

  /** Fails with `problem` unless `ok(value)`, or `value` is an unresolved token. */
  public check<T>(prop: string, value: T, ok: (value: T) => boolean, problem: string | ((value: T) => string)): void {
    if (isUnresolved(value)) return;
    if (!ok(value)) this.fail(prop, typeof problem === 'function' ? problem(value) : problem);
  }

  /** A whole number of at least `min` (and at most `max` when given). */
  public wholeNumber(prop: string, value: number, min: number, max?: number, why = ''): void {
    const range = max === undefined ? `>= ${min}` : `between ${min} and ${max}`;
    this.check(prop, value, (v) => Number.isInteger(v) && v >= min && (max === undefined || v <= max), (v) => `must be a whole number ${range}${why}, got ${v}`);
  }

  /** A CloudWatch Logs retention value ({@link LOG_RETENTION_DAYS}). */
  public logRetention(prop: string, days: number): void {
    this.check(prop, days, (d) => LOG_RETENTION_DAYS.includes(d), (d) => `${d} is not a CloudWatch Logs retention value`);
  }

  /** `pattern` matches the string. */
  public matches(prop: string, value: string, pattern: RegExp, problem: string | ((value: string) => string)): void {
    this.check(prop, value, (s) => pattern.test(s), problem);
  }

  /** An image tag that pins a digest (`<tag>@sha256:<64 hex>`), so a pull can never get other bytes. */
  public pinnedDigest(prop: string, tag: string): void {
    this.matches(prop, tag, /@sha256:[0-9a-f]{64}$/, `"${tag}" must pin a digest (<tag>@sha256:<64 hex>)`);
  }

  /** A list of at least `min` entries (a token list passes). */
  public atLeast(prop: string, list: readonly unknown[], min: number, problem: string): void {
    this.check(prop, list, (l) => l.length >= min, problem);
  }

  /** No entry twice (token entries are not compared). */
  public unique(prop: string, list: readonly unknown[], problem: (duplicate: unknown) => string): void {
    if (isUnresolved(list)) return;
    const seen = new Set<unknown>();
    for (const item of list) {
      if (isUnresolved(item)) continue;
      if (seen.has(item)) this.fail(prop, problem(item));
      seen.add(item);
    }
  }

  /** `max` not below `min` (both resolved). */
  public ordered(maxProp: string, max: number, minProp: string, min: number): void {
    if (isUnresolved(max) || isUnresolved(min)) return;
    if (max < min) this.fail(maxProp, `(${max}) is below ${minProp} (${min})`);
  }
}
