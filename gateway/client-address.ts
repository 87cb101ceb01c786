import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { ForwardedHeader } from './config';
import { GatewayStartError } from './start-error';

/**
 * The client's address: the TCP peer, unless that peer is a trusted proxy
 * (`--trust-proxy`), in which case the forwarding header it set is read from
 * the right (the hop nearest the gateway) and every address a trusted proxy
 * added is skipped; the first untrusted one is the client. Entries left of it
 * came from the client itself and are never believed. Used for per-address
 * limits, logs and the audit log.
 */
export type ClientAddressOf = (request: IncomingMessage) => string;

export function clientAddressResolver(trusted: readonly string[], header: ForwardedHeader): ClientAddressOf {
  const peer = (request: IncomingMessage) => normalize(request.socket.remoteAddress ?? '') || 'unknown';
  if (trusted.length === 0) return peer;
  const list = trustList(trusted);
  const isTrusted = (address: string) => list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  return (request) => {
    let address = peer(request);
    if (!isIP(address) || !isTrusted(address)) return address;
    const hops = forwardedHops(request, header);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalize(hops[i] as string);
      // A hop that is not an address (`unknown`, an obfuscated name) ends the
      // chain: the last trusted proxy is all that is known.
      if (!isIP(hop)) return address;
      address = hop;
      if (!isTrusted(address)) return address;
    }
    return address;
  };
}

function trustList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [base = '', prefix, extra] = entry.trim().split('/');
    const address = normalize(base);
    const family = isIP(address);
    const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
    if (
      family === 0 ||
      extra !== undefined ||
      !Number.isInteger(bits) ||
      bits < 0 ||
      bits > (family === 6 ? 128 : 32)
    ) {
      throw new GatewayStartError('BAD_TRUST_PROXY', `--trust-proxy: "${entry}" is not an address or CIDR`);
    }
    list.addSubnet(address, bits, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** The addresses of a forwarding header, leftmost (the original client, as claimed) first. */
function forwardedHops(request: IncomingMessage, header: ForwardedHeader): string[] {
  const value = request.headers[header];
  if (typeof value !== 'string') return [];
  if (header === 'x-forwarded-for') return value.split(',').map((s) => s.trim());
  // RFC 7239: `for=192.0.2.1;proto=https, for="[2001:db8::1]:4711"`.
  return value.split(',').map((element) => {
    for (const pair of element.split(';')) {
      const [name = '', raw = ''] = pair.split('=');
      if (name.trim().toLowerCase() !== 'for') continue;
      const node = raw.trim().replace(/^"|"$/g, '');
      const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(node);
      if (bracketed) return bracketed[1] as string;
      return node.replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, '$1');
    }
    return '';
  });
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`, as a dual-stack socket reports IPv4 peers) as plain IPv4. */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? (mapped[1] as string) : address;
}
