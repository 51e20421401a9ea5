import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Addresses an outbound call on behalf of a client (a job callback) must never reach: loopback,
 * private (RFC 1918, unique-local), link-local (cloud metadata at 169.254.169.254), carrier-grade
 * NAT, unspecified, multicast and broadcast, IPv4-mapped IPv6 forms included.
 */
const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}

/** True when `address` (an IP literal) is loopback, private, link-local or otherwise not public. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family !== 6) return true; // not an IP at all: refuse rather than guess
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return BLOCKED.check(mapped[1]!, 'ipv4');
  return BLOCKED.check(address, 'ipv6');
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
type Resolver = (hostname: string, options: { all: true }, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/**
 * A `lookup` for sockets (net/tls `connect` options, undici's `connect`) that resolves the name
 * and refuses to connect when any address it got is not public. The check runs on the addresses
 * the socket will actually use, at connect time, so a name that resolved to a public address when
 * it was allow-listed and to 127.0.0.1 now (DNS rebinding) is refused.
 */
export function publicOnlyLookup(resolve: Resolver = dnsLookup as unknown as Resolver): LookupFunction {
  const lookup = (hostname: string, options: { all?: boolean } | number, callback: LookupCallback): void => {
    resolve(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const blocked = addresses.find((a) => isNonPublicAddress(a.address));
      if (blocked || addresses.length === 0) {
        const refusal: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${blocked?.address ?? 'nothing'}, which is not a public address`);
        refusal.code = 'ENONPUBLIC';
        return callback(refusal, []);
      }
      const all = typeof options === 'object' && options.all === true;
      if (all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
  return lookup as unknown as LookupFunction;
}
