import { describe, expect, it } from 'vitest';
import { clientAddress, trustedProxySet } from '../../src/web/client-address.js';

const from = (peer: string, xff?: string | string[]) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as Parameters<typeof clientAddress>[0];

describe('clientAddress', () => {
  const trusted = trustedProxySet(['10.0.0.2', '10.0.0.3', '2001:DB8::1']);

  it('is the peer itself when the peer is not a trusted proxy, whatever it claims', () => {
    expect(clientAddress(from('198.51.100.9', '192.0.2.7'), trusted)).toBe('198.51.100.9');
    expect(clientAddress(from('::ffff:198.51.100.9'), trusted)).toBe('198.51.100.9');
  });

  it('reads X-Forwarded-For from a trusted proxy, from the nearest hop back', () => {
    expect(clientAddress(from('10.0.0.2', '192.0.2.7'), trusted)).toBe('192.0.2.7');
    expect(clientAddress(from('::ffff:10.0.0.2', '192.0.2.7'), trusted)).toBe('192.0.2.7');
    // Two proxies of ours; what the client wrote itself (left of its address) is not believed.
    expect(clientAddress(from('10.0.0.2', '203.0.113.66, 192.0.2.7, 10.0.0.3'), trusted)).toBe('192.0.2.7');
    expect(clientAddress(from('10.0.0.2', ['203.0.113.66', '192.0.2.7']), trusted)).toBe('192.0.2.7');
    expect(clientAddress(from('2001:db8::1', '2001:db8::99'), trusted)).toBe('2001:db8::99');
  });

  it('falls back to the proxy when the header is missing or malformed', () => {
    expect(clientAddress(from('10.0.0.2'), trusted)).toBe('10.0.0.2');
    expect(clientAddress(from('10.0.0.2', 'unknown, 192.0.2.7'), trusted)).toBe('192.0.2.7');
    expect(clientAddress(from('10.0.0.2', '192.0.2.7, not-an-address'), trusted)).toBe('10.0.0.2');
    expect(clientAddress(from('10.0.0.2', '10.0.0.3'), trusted)).toBe('10.0.0.2');
  });
});
