/**
 * H.225.0 RAS messages: every message type round-trips, hand-checked byte vectors, real-world
 * captures decode (and re-encode byte for byte), and hostile datagrams are refused with
 * H323CodecError only.
 */
import { describe, expect, it } from 'vitest';
import { H323CodecError } from '../../src/h323/errors.js';
import { OID_MD5, checkPwdHash, endpointPwdHash } from '../../src/h323/h235.js';
import { PerWriter } from '../../src/h323/per.js';
import { writePcap } from '../../src/h323/pcap.js';
import { H225_PROTOCOL_ID, addressOf, aliasText, decodeRas, encodeRas, formatAddress, ipv4Address, rasType, requestSeqNum, type RasMessage } from '../../src/h323/ras.js';
import { sampleAliases, sampleMessages } from '../fixtures/h323/messages.js';
import { bytesOf, realCaptures } from '../fixtures/h323/real-captures.js';

describe('RAS round trip', () => {
  it.each(sampleMessages.map((s) => [s.name, s.msg] as const))('%s decodes to what was encoded', (_name, msg) => {
    const bytes = encodeRas(msg);
    const back = decodeRas(bytes);
    expect(back).toEqual(msg);
    expect(encodeRas(back).equals(bytes)).toBe(true);
  });

  it('covers every RAS message type knude sends or receives', () => {
    const types = new Set(sampleMessages.map((s) => rasType(s.msg)));
    for (const t of [
      'gatekeeperRequest', 'gatekeeperConfirm', 'gatekeeperReject', 'registrationRequest', 'registrationConfirm', 'registrationReject',
      'unregistrationRequest', 'unregistrationConfirm', 'unregistrationReject', 'admissionRequest', 'admissionConfirm', 'admissionReject',
      'locationRequest', 'locationConfirm', 'locationReject', 'disengageRequest', 'disengageConfirm', 'disengageReject',
      'bandwidthRequest', 'bandwidthConfirm', 'bandwidthReject', 'infoRequest', 'infoRequestResponse', 'requestInProgress',
      'serviceControlIndication', 'serviceControlResponse', 'unknownMessageResponse',
    ]) {
      expect(types.has(t as ReturnType<typeof rasType>), t).toBe(true);
    }
  });

  it('carries every alias type', () => {
    const rrq = decodeRas(encodeRas(sampleMessages.find((s) => s.name === 'RRQ full')!.msg));
    if (!('registrationRequest' in rrq)) throw new Error('not an RRQ');
    expect(rrq.registrationRequest.terminalAlias).toEqual(sampleAliases);
    expect(rrq.registrationRequest.terminalAlias!.map(aliasText)).toEqual([
      { type: 'dialedDigits', value: '4640123456' },
      { type: 'h323-ID', value: 'Sjukhuset Lund Rum 3 – Söderström' },
      { type: 'url-ID', value: 'h323:rum3@skane.se' },
      { type: 'email-ID', value: 'rum3@skane.se' },
      { type: 'transportID', value: '10.1.2.3:1720' },
      { type: 'partyNumber', value: '4640123456' },
    ]);
  });
});

describe('RAS byte vectors (worked out by hand)', () => {
  it('UCF: choice index 7 of 25 in 5 bits after the extension bit, then the UCF bits and requestSeqNum', () => {
    // RasMessage: ext '0', index 7 '00111'; UCF: ext '0', nonStandardData absent '0' → 0001 1100;
    // requestSeqNum 4 → 4 - 1 in two aligned octets.
    const bytes = encodeRas({ unregistrationConfirm: { requestSeqNum: 4 } });
    expect(bytes.toString('hex')).toBe('1c0003');
    expect(decodeRas(Buffer.from('1c0003', 'hex'))).toEqual({ unregistrationConfirm: { requestSeqNum: 4 } });
  });

  it('GCF with a gatekeeperIdentifier and an IPv4 rasAddress', () => {
    // '0' '00001' (gatekeeperConfirm), GCF ext '0', nonStandardData '0', gatekeeperIdentifier '1',
    // pad → 04 80 | seq 1 → 00 00 | OID 06 00 08 91 4a 00 07 | 'gk': length 1 in 7 bits, pad → 02,
    // 00 67 00 6b | TransportAddress ext '0' index '000', pad → 00 | c0 00 02 01 | port 06 b7
    const msg: RasMessage = { gatekeeperConfirm: { requestSeqNum: 1, protocolIdentifier: H225_PROTOCOL_ID, gatekeeperIdentifier: 'gk', rasAddress: ipv4Address('192.0.2.1', 1719) } };
    const expected = '0480' + '0000' + '060008914a0007' + '02' + '0067006b' + '00' + 'c0000201' + '06b7';
    expect(encodeRas(msg).toString('hex')).toBe(expected);
    expect(decodeRas(Buffer.from(expected, 'hex'))).toEqual(msg);
  });

  it('RRJ duplicateAlias: a reason with a value, then the alias list', () => {
    // '0' '00101' (registrationReject), RRJ ext '0', nonStandardData '0', gatekeeperIdentifier '0',
    // pad → 14 00 | seq 2 → 00 01 | OID | reason ext '0' index 4 '100', count 1 (length octet)
    // → 40 01 | alias ext '0', index '0', length 4 - 1 in 7 bits '0000011' → 0000 0001 1, pad
    // → 01 80 | digits '4631' as indexes into '#*,0123456789': 7 9 6 4 → 79 64
    const msg: RasMessage = { registrationReject: { requestSeqNum: 2, protocolIdentifier: H225_PROTOCOL_ID, rejectReason: { duplicateAlias: [{ dialedDigits: '4631' }] } } };
    const expected = '1400' + '0001' + '060008914a0007' + '4001' + '0180' + '7964';
    expect(encodeRas(msg).toString('hex')).toBe(expected);
    expect(decodeRas(Buffer.from(expected, 'hex'))).toEqual(msg);
  });

  it('RIP: an extension alternative of RasMessage, wrapped in an open type', () => {
    // '1' + index 0 '0000000' → 80 | length 5 | RIP: ext '0', 4 optionals '0000', pad → 00,
    // seq 5 → 00 04, delay 5000 (1..65535) → 13 87
    const bytes = encodeRas({ requestInProgress: { requestSeqNum: 5, delay: 5000 } });
    expect(bytes.toString('hex')).toBe('80050000041387');
    expect(decodeRas(bytes)).toEqual({ requestInProgress: { requestSeqNum: 5, delay: 5000 } });
  });
});

describe('RAS from newer versions', () => {
  it('skips extension additions and message types this codec does not know', () => {
    // A UCF of a future H.225.0 with a 7th extension addition: RasMessage index 7, UCF with the
    // extension bit set, requestSeqNum 4, 7 additions in the bitmap, only the unknown 7th present.
    const w = new PerWriter();
    w.bool(false);
    w.constrained(7, 0, 24, 'RasMessage');
    w.bool(true);
    w.bool(false);
    w.constrained(4, 1, 65535, 'requestSeqNum');
    w.normallySmall(6);
    for (let i = 0; i < 7; i++) w.bool(i === 6);
    w.openType((inner) => inner.octets(Buffer.from('future', 'latin1')));
    expect(decodeRas(w.finish())).toEqual({ unregistrationConfirm: { requestSeqNum: 4 } });
    // A RasMessage alternative after admissionConfirmSequence (extension index 8).
    const x = new PerWriter();
    x.bool(true);
    x.normallySmall(8);
    x.openType((inner) => inner.octets(Buffer.from([0x00, 0x05])));
    expect(decodeRas(x.finish())).toEqual({ $unknown: { index: 8, data: Buffer.from([0x00, 0x05]) } });
  });
});

describe('RAS from real equipment', () => {
  it.each(realCaptures.map((c) => [c.name, c] as const))('%s decodes and re-encodes to the same bytes', (_name, c) => {
    const bytes = bytesOf(c.hex);
    const msg = decodeRas(bytes);
    expect(encodeRas(msg).equals(bytes)).toBe(true);
  });

  it('reads the fields knude uses from the ValueHD RRQ, its H.235 tokens included', () => {
    const msg = decodeRas(bytesOf(realCaptures[0]!.hex));
    if (!('registrationRequest' in msg)) throw new Error('not an RRQ');
    const rrq = msg.registrationRequest;
    expect(rrq.requestSeqNum).toBe(0x126e);
    expect(rrq.protocolIdentifier).toBe('0.0.8.2250.0.6');
    expect(rrq.terminalAlias).toEqual([{ 'h323-ID': 'test' }]);
    expect(rrq.callSignalAddress.map(formatAddress)).toEqual(['10.110.1.206:1720']);
    expect(rrq.timeToLive).toBe(10);
    expect(rrq.keepAlive).toBe(false);
    expect(rrq.tokens?.[0]).toMatchObject({ tokenOID: '1.2.840.113548.10.1.2.1', timeStamp: 1562923403, random: 25, generalID: 'test\u0000' });
    expect(rrq.cryptoTokens?.[0]).toMatchObject({ cryptoEPPwdHash: { alias: { 'h323-ID': 'test\u0000' }, timeStamp: 1562923403, token: { algorithmOID: OID_MD5, paramS: {} } } });
    expect(rrq.featureSet?.supportedFeatures).toEqual([{ id: { standard: 18 } }]);
  });

  it('checks the ValueHD endpoint\'s H.235 password hash (its password is "test")', () => {
    const msg = decodeRas(bytesOf(realCaptures[0]!.hex));
    if (!('registrationRequest' in msg)) throw new Error('not an RRQ');
    const tokens = msg.registrationRequest.cryptoTokens;
    const at = { now: 1562923403 * 1000 + 2000, maxSkewSeconds: 300 };
    expect(checkPwdHash(tokens, () => 'test', at)).toMatchObject({ ok: true, timeStamp: 1562923403 });
    expect(checkPwdHash(tokens, () => 'tset', at)).toMatchObject({ ok: false, reason: 'password' });
    expect(checkPwdHash(tokens, () => undefined, at)).toMatchObject({ ok: false, reason: 'unknown-alias' });
    expect(checkPwdHash(tokens, () => 'test', { now: Date.UTC(2026, 0, 1), maxSkewSeconds: 300 })).toMatchObject({ ok: false, reason: 'stale' });
    expect(checkPwdHash(undefined, () => 'test', at)).toMatchObject({ ok: false, reason: 'missing' });
    // What knude's own endpoint side makes checks the same way, and encodes as H.225.0 wants.
    const own = endpointPwdHash({ 'h323-ID': 'alice' }, 's3cret', 1700000000);
    expect(checkPwdHash([own], () => 's3cret', { now: 1700000000 * 1000, maxSkewSeconds: 1 })).toMatchObject({ ok: true });
    const back = decodeRas(encodeRas({ unregistrationRequest: { requestSeqNum: 1, callSignalAddress: [], cryptoTokens: [own] } }));
    expect(back).toEqual({ unregistrationRequest: { requestSeqNum: 1, callSignalAddress: [], cryptoTokens: [own] } });
  });

  it('reads the old (v2) ARQ, whose extension bitmap is shorter than today\'s', () => {
    const msg = decodeRas(bytesOf(realCaptures[1]!.hex));
    if (!('admissionRequest' in msg)) throw new Error('not an ARQ');
    expect(msg.admissionRequest).toMatchObject({ requestSeqNum: 8, endpointIdentifier: '4632877', destinationInfo: [{ dialedDigits: '2004' }], callModel: { gatekeeperRouted: null }, answerCall: false });
    expect(msg.admissionRequest.canMapSrcAlias).toBeUndefined();
  });
});

describe('RAS input that is not RAS', () => {
  it('is refused with H323CodecError, never another exception', () => {
    const good = encodeRas(sampleMessages.find((s) => s.name === 'RRQ full')!.msg);
    const inputs: Buffer[] = [Buffer.alloc(0), Buffer.from('ff', 'hex'), Buffer.from('ffffffffffffffff', 'hex'), Buffer.from('REGISTER sip:x SIP/2.0\r\n\r\n')];
    for (let cut = 1; cut < good.length; cut += 3) inputs.push(good.subarray(0, cut));
    for (let i = 0; i < good.length; i += 5) {
      const flipped = Buffer.from(good);
      flipped[i] ^= 0xa5;
      inputs.push(flipped);
    }
    for (const b of inputs) {
      try {
        decodeRas(b);
      } catch (err) {
        expect(err, b.toString('hex')).toBeInstanceOf(H323CodecError);
      }
    }
  });

  it('refuses trailing octets after a message and values the ASN.1 does not allow', () => {
    expect(() => decodeRas(Buffer.from('1c000300', 'hex'))).toThrow(/1 octets left over/);
    expect(() => encodeRas({ unregistrationConfirm: { requestSeqNum: 0 } })).toThrow(/requestSeqNum: 0 is outside 1\.\.65535/);
    expect(() => encodeRas({ registrationRequest: { requestSeqNum: 1 } } as unknown as RasMessage)).toThrow(/protocolIdentifier: missing/);
    expect(() => encodeRas({ admissionReject: { requestSeqNum: 1, rejectReason: { noSuchReason: null } } } as unknown as RasMessage)).toThrow(/"noSuchReason" is not an alternative of AdmissionRejectReason/);
  });
});

describe('RAS helpers', () => {
  it('reads and writes transport addresses', () => {
    expect(addressOf(ipv4Address('10.0.0.1', 1720))).toEqual({ host: '10.0.0.1', port: 1720 });
    expect(formatAddress({ ip6Address: { ip: Buffer.from('20010db8000000000000000000000001', 'hex'), port: 1720 } })).toBe('[2001:db8:0:0:0:0:0:1]:1720');
    expect(() => ipv4Address('10.0.0.256', 1)).toThrow(/not an IPv4 address/);
    expect(requestSeqNum({ unregistrationConfirm: { requestSeqNum: 9 } })).toBe(9);
  });

  it('writes a pcap file with one Ethernet/IPv4/UDP frame per datagram', () => {
    const payload = encodeRas({ unregistrationConfirm: { requestSeqNum: 4 } });
    const pcap = writePcap([{ src: { host: '192.0.2.1', port: 1719 }, dst: { host: '192.0.2.2', port: 5000 }, payload }]);
    expect(pcap.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect(pcap.readUInt32LE(20)).toBe(1);
    expect(pcap.readUInt32LE(24 + 8)).toBe(14 + 20 + 8 + payload.length);
    const ip = pcap.subarray(24 + 16 + 14, 24 + 16 + 34);
    expect([...ip.subarray(12, 16)]).toEqual([192, 0, 2, 1]);
    // A correct IPv4 header checksum sums to 0xffff.
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(sum).toBe(0xffff);
    expect(pcap.subarray(pcap.length - payload.length).equals(payload)).toBe(true);
  });
});
