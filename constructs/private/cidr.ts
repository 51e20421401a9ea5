/** IPv4 CIDR arithmetic shared by the constructs (subnet plans) and envs/ (overlap checks). */

/** Parses `a.b.c.d/n` into a [first, last] address range, or undefined when malformed. */
export function parseCidr(cidr: string): { first: number; last: number; prefix: number } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const address = ((octets[0] << 24) >>> 0) + (octets[1] << 16) + (octets[2] << 8) + octets[3];
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) return undefined; // host bits set
  return { first: address, last: address + size - 1, prefix };
}
