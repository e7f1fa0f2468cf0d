/**
 * Which IP addresses the server may connect to when a user gave it the URL (push endpoints,
 * webhooks). Everything that reaches inside the server's own host or network is refused:
 * loopback, private, shared (CGNAT), link-local (where cloud metadata services listen),
 * unique-local, multicast, reserved and unspecified ranges, in IPv4 and IPv6, including IPv6
 * forms that carry an IPv4 address (mapped, NAT64, 6to4) and Teredo. An operator may exempt
 * ranges (OUTBOUND_ALLOW_ADDRESSES), e.g. a push relay on the internal network, or the tests'
 * local endpoints.
 */
import net from 'node:net';

interface Range {
  bytes: number[];
  prefix: number;
  why: string;
}

const V4: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified ("this network")'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared address space (CGNAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved (and broadcast)'],
];

const V6: [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['::', 96, 'IPv4-compatible (deprecated)'],
  ['100::', 64, 'discard-only'],
  ['2001::', 32, 'Teredo'],
  ['2001:db8::', 32, 'documentation'],
  ['fc00::', 7, 'unique-local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local (deprecated)'],
  ['ff00::', 8, 'multicast'],
  ['64:ff9b:1::', 48, 'local-use NAT64'],
];

const V4_RANGES: Range[] = V4.map(([a, prefix, why]) => ({ bytes: parseIPv4(a) as number[], prefix, why }));
const V6_RANGES: Range[] = V6.map(([a, prefix, why]) => ({ bytes: parseIPv6(a) as number[], prefix, why }));

/** Why connecting to `address` (an IP literal) is refused, or null when it is a public address. */
export function blockedReason(address: string): string | null {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const v4 = parseIPv4(bare);
  if (v4) return matchRange(v4, V4_RANGES);
  const v6 = parseIPv6(bare);
  if (!v6) return 'not an IP address';
  // IPv6 forms that carry an IPv4 address are judged by that address.
  const embedded = embeddedIPv4(v6);
  if (embedded) {
    const why = matchRange(embedded, V4_RANGES);
    return why ? `${why} (inside an IPv6 address)` : null;
  }
  return matchRange(v6, V6_RANGES);
}

/** The IPv4 address inside IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) or 6to4 (2002::/16) forms. */
function embeddedIPv4(b: number[]): number[] | null {
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12);
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return b.slice(12);
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6);
  return null;
}

function matchRange(bytes: number[], ranges: Range[]): string | null {
  for (const r of ranges) if (inPrefix(bytes, r.bytes, r.prefix)) return r.why;
  return null;
}

function inPrefix(bytes: number[], base: number[], prefix: number): boolean {
  if (bytes.length !== base.length) return false;
  for (let bit = 0; bit < prefix; bit += 8) {
    const take = Math.min(8, prefix - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    const i = bit / 8;
    if (((bytes[i] as number) & mask) !== ((base[i] as number) & mask)) return false;
  }
  return true;
}

export function parseIPv4(s: string): number[] | null {
  if (!net.isIPv4(s)) return null;
  return s.split('.').map(Number);
}

/** 16 bytes, or null. Handles `::` and a trailing dotted quad. */
export function parseIPv6(s: string): number[] | null {
  if (!net.isIPv6(s)) return null;
  let text = s;
  const tail: number[] = [];
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad?.[1]) {
    tail.push(...(parseIPv4(quad[1]) as number[]));
    text = `${text.slice(0, -quad[1].length)}0:0`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (part: string) => (part ? part.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const all = rest === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
  const bytes = all.flatMap((g) => [(g >> 8) & 0xff, g & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes.length === 16 ? bytes : null;
}

/** Exempted ranges (`OUTBOUND_ALLOW_ADDRESSES`: `127.0.0.1/32,10.1.2.0/24,::1/128`). */
export class AddressPolicy {
  private readonly allow = new net.BlockList();

  constructor(allowCidrs: readonly string[] = []) {
    for (const cidr of allowCidrs) {
      const [address, bits] = cidr.split('/') as [string, string | undefined];
      const type = net.isIPv6(address) ? 'ipv6' : 'ipv4';
      const prefix = bits === undefined ? (type === 'ipv6' ? 128 : 32) : Number(bits);
      this.allow.addSubnet(address, prefix, type);
    }
  }

  /** Why `address` may not be connected to, or null when it may. */
  refuse(address: string): string | null {
    const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    const why = blockedReason(bare);
    if (why === null) return null;
    const type = net.isIPv6(bare) ? 'ipv6' : 'ipv4';
    return net.isIP(bare) && this.allow.check(bare, type) ? null : why;
  }
}

/** Checks `OUTBOUND_ALLOW_ADDRESSES` entries (config validation). */
export function isCidr(s: string): boolean {
  const [address, bits, extra] = s.split('/');
  if (extra !== undefined || !address || !net.isIP(address)) return false;
  if (bits === undefined) return true;
  const max = net.isIPv6(address) ? 128 : 32;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
}
