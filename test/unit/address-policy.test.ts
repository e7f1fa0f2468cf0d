/** Which addresses a user-given URL may make the server connect to: table-driven. */
import { describe, expect, it } from 'vitest';
import { AddressPolicy, blockedReason, isCidr, parseIPv6 } from '../../server/net/address-policy.ts';

describe('blockedReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.10', 'private'],
    ['100.64.0.1', 'shared address space'],
    ['169.254.169.254', 'link-local'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['198.18.0.1', 'benchmarking'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['fe80::1%eth0', 'link-local'],
    ['fd00:ec2::254', 'unique-local'], // AWS's IPv6 metadata address
    ['fc00::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback (inside an IPv6 address)'],
    ['::ffff:7f00:1', 'loopback (inside an IPv6 address)'],
    ['::ffff:a9fe:a9fe', 'link-local (cloud metadata) (inside an IPv6 address)'],
    ['64:ff9b::a00:1', 'private (inside an IPv6 address)'],
    ['2002:c0a8:101::1', 'private (inside an IPv6 address)'],
    ['2001:0:4136:e378::1', 'Teredo'],
    ['2001:db8::1', 'documentation'],
    ['::127.0.0.1', 'IPv4-compatible (deprecated)'],
  ])('%s → %s', (address, why) => {
    expect(blockedReason(address)).toContain(why);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1', // just outside 172.16/12
    '100.128.0.1', // just outside 100.64/10
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808', // NAT64 of 8.8.8.8
    '2002:808:808::1', // 6to4 of 8.8.8.8
  ])('%s is public', (address) => {
    expect(blockedReason(address)).toBeNull();
  });

  it('refuses what is not an address', () => {
    expect(blockedReason('example.com')).toBe('not an IP address');
  });
});

describe('AddressPolicy', () => {
  it('exempts only the ranges the operator names', () => {
    const policy = new AddressPolicy(['127.0.0.2/32', 'fd12::/16']);
    expect(policy.refuse('127.0.0.2')).toBeNull();
    expect(policy.refuse('127.0.0.1')).toBe('loopback');
    expect(policy.refuse('fd12::5')).toBeNull();
    expect(policy.refuse('fd13::5')).toBe('unique-local');
    expect(policy.refuse('8.8.8.8')).toBeNull();
  });
});

describe('parsing', () => {
  it('parses IPv6 with :: and a dotted quad', () => {
    expect(parseIPv6('::ffff:1.2.3.4')?.slice(10)).toEqual([0xff, 0xff, 1, 2, 3, 4]);
    expect(parseIPv6('2001:db8::1')).toEqual([0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1]);
    expect(parseIPv6('1.2.3.4')).toBeNull();
  });

  it.each([
    ['127.0.0.1', true],
    ['127.0.0.1/32', true],
    ['10.0.0.0/8', true],
    ['::1/128', true],
    ['fd00::/8', true],
    ['10.0.0.0/33', false],
    ['localhost', false],
    ['10.0.0.0/8/1', false],
  ])('isCidr(%s) = %s', (s, ok) => {
    expect(isCidr(s)).toBe(ok);
  });
});
