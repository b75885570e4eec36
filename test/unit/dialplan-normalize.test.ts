import { describe, expect, it } from 'vitest';
import { DialStringError } from '../../src/dialplan/errors.js';
import { normalize, parseDial, toE164, transformSubject, type DialInput, type NumberingPlan } from '../../src/dialplan/normalize.js';

const se: NumberingPlan = {
  ownDomains: ['video.inera.se', 'knude.local'],
  countryCode: '46',
  nationalPrefix: '0',
  internationalPrefix: '00',
  nationalNumberLengths: [],
};
const dk: NumberingPlan = {
  ownDomains: ['video.example.dk'],
  countryCode: '45',
  nationalPrefix: '',
  internationalPrefix: '00',
  nationalNumberLengths: [8],
};

type Case = [label: string, plan: NumberingPlan, input: DialInput, expected: { e164?: string; uri?: string; domain?: string }];

const cases: Case[] = [
  ['E.164 with spaces', se, '+46 8 123 456 78', { e164: '+46812345678' }],
  ['international prefix 00 and dashes', se, '0046-8-123 456 78', { e164: '+46812345678' }],
  ['national prefix 0', se, '08-123 456 78', { e164: '+46812345678' }],
  ['parentheses and dots', se, '(08) 123.456.78', { e164: '+46812345678' }],
  ['+ optional', se, '46812345678', { e164: '+46812345678' }],
  ['sip: number on own domain', se, 'sip:+46812345678@video.inera.se', { e164: '+46812345678', domain: 'video.inera.se' }],
  ['sips: with params, no +', se, 'sips:46812345678@video.inera.se;transport=tls', { e164: '+46812345678' }],
  ['own domain in capitals with port', se, 'sip:46812345678@VIDEO.INERA.SE:5061', { e164: '+46812345678', domain: 'video.inera.se' }],
  ['second own domain', se, 'sip:08123456@knude.local', { e164: '+468123456' }],
  ['URI: user and host lowercased', se, 'sip:Alice@Region.SE', { uri: 'alice@region.se', domain: 'region.se' }],
  ['sips: is the same alias', se, 'sips:alice@region.se', { uri: 'alice@region.se' }],
  ['URI params and headers stripped', se, 'sip:alice@region.se;transport=tls?subject=hello', { uri: 'alice@region.se' }],
  ['name-addr with display name and tag', se, '"Alice A" <sip:alice@region.se>;tag=1', { uri: 'alice@region.se' }],
  ['password dropped', se, 'sip:alice:secret@region.se', { uri: 'alice@region.se' }],
  ['digits on a foreign domain stay a URI', se, 'sip:46812345678@other.example.com', { uri: '46812345678@other.example.com' }],
  ['tel: global number', se, 'tel:+46-8-123-456-78', { e164: '+46812345678' }],
  ['tel: local number with phone-context', se, 'tel:12345678;phone-context=+468', { e164: '+46812345678' }],
  ['bare name lands on primary own domain', se, 'alice', { uri: 'alice@video.inera.se' }],
  ['user@domain without scheme', se, 'Alice@Region.se', { uri: 'alice@region.se' }],
  ['h323: URI with domain', se, 'h323:alice@region.se', { uri: 'alice@region.se' }],
  ['h323: URI with number only', se, 'h323:46812345678', { e164: '+46812345678' }],
  ['H.323 dialedDigits with trailing #', se, { h323: 'dialedDigits', value: '0812345678#' }, { e164: '+46812345678' }],
  ['H.323 dialedDigits with pause', se, { h323: 'dialedDigits', value: '0046,812345678' }, { e164: '+46812345678' }],
  ['H.323 h323-ID name', se, { h323: 'h323-ID', value: 'Room101' }, { uri: 'room101@video.inera.se' }],
  ['H.323 h323-ID with non-ASCII letters', se, { h323: 'h323-ID', value: 'Söderström' }, { uri: 'söderström@video.inera.se' }],
  ['H.323 url-ID', se, { h323: 'url-ID', value: 'h323:Room101@Region.SE' }, { uri: 'room101@region.se' }],
  ['H.323 email-ID', se, { h323: 'email-ID', value: 'Bob@Region.SE' }, { uri: 'bob@region.se' }],
  ['%-escaped + in user part', se, 'sip:%2B46812345678@video.inera.se', { e164: '+46812345678' }],
  ['IPv4 host', se, 'sip:alice@192.0.2.10:5060', { uri: 'alice@192.0.2.10' }],
  ['IPv6 host', se, 'sip:alice@[2001:DB8::1]:5060', { uri: 'alice@2001:db8::1' }],
  ['user=phone parameter', se, 'sip:+46812345678@video.inera.se;user=phone', { e164: '+46812345678' }],
  ['user parameter isub', se, 'sip:+46812345678;isub=12@video.inera.se', { e164: '+46812345678' }],
  ['dots kept in names', se, 'sip:john.doe@region.se', { uri: 'john.doe@region.se' }],
  ['trailing dot of FQDN', se, 'sip:alice@region.se.', { uri: 'alice@region.se' }],
  ['DK: national length 8 gets +45', dk, '12 34 56 78', { e164: '+4512345678' }],
  ['DK: with country code, no +', dk, '4512345678', { e164: '+4512345678' }],
  ['DK: +45 with spaces', dk, '+45 12 34 56 78', { e164: '+4512345678' }],
  ['DK: digits on own domain', dk, 'sip:12345678@video.example.dk', { e164: '+4512345678' }],
  ['DK: 00 to Sweden', dk, '004612345678', { e164: '+4612345678' }],
  ['DK: leading 0 is not a trunk prefix there', dk, '0046 8 123', { e164: '+468123' }],
];

describe('normalize', () => {
  it.each(cases)('%s', (_label, plan, input, expected) => {
    const n = normalize(input, plan);
    if (expected.e164 !== undefined) {
      expect(n.e164).toBe(expected.e164);
      expect(n.uri).toBeUndefined();
    }
    if (expected.uri !== undefined) {
      expect(n.uri).toBe(expected.uri);
      expect(n.e164).toBeUndefined();
    }
    if (expected.domain !== undefined) expect(n.domain).toBe(expected.domain);
  });

  const garbage: Array<[string, DialInput]> = [
    ['empty', ''],
    ['blanks', '   '],
    ['scheme only', 'sip:'],
    ['empty user', 'sip:@region.se'],
    ['unsupported scheme', 'http://example.com/alice'],
    ['missing host', 'sip:alice@'],
    ['bad host', 'sip:alice@bad_domain.se'],
    ['space in name', 'sip:al ice@region.se'],
    ['too long', 'x'.repeat(300)],
    ['host without user', 'sip:example.se'],
    ['too short number', '0'],
    ['E.164 starting with 0', '+0123456'],
    ['more than 15 digits', '+46123456789012345'],
    ['unterminated name-addr', '<sip:alice@region.se'],
    ['bad %-escape', 'sip:alice%zz@region.se'],
    ['control character', 'alice\u0000@region.se'],
    ['bad port', 'sip:alice@region.se:99999999'],
    ['* inside dialedDigits', { h323: 'dialedDigits', value: '12*34' }],
    ['letters in dialedDigits', { h323: 'dialedDigits', value: '12ab' }],
    ['url-ID without scheme', { h323: 'url-ID', value: 'alice' }],
    ['email-ID without @', { h323: 'email-ID', value: 'alice' }],
    ['unknown H.323 alias type', { h323: 'transportID', value: '10.0.0.1' } as unknown as DialInput],
    ['tel: without number', 'tel:alice'],
    ['angle brackets in user', 'sip:a<b>@region.se'],
  ];
  it.each(garbage)('rejects %s with DialStringError', (_label, input) => {
    expect(() => normalize(input, se)).toThrow(DialStringError);
  });

  it('refuses a bare name when no own domain is configured', () => {
    expect(() => normalize('alice', { ...se, ownDomains: [] })).toThrow(/no own domain/);
  });

  it('cuts hostile input in error messages', () => {
    try {
      normalize('y'.repeat(10_000), se);
      expect.unreachable();
    } catch (e) {
      expect((e as DialStringError).input.length).toBeLessThanOrEqual(81);
    }
  });
});

describe('transform subject and E.164 rules', () => {
  it('shows transforms the number as dialled, before canonicalisation', () => {
    expect(transformSubject(parseDial('sip:9-81234567@video.inera.se'), se)).toBe('981234567');
    expect(transformSubject(parseDial('sip:Alice@Region.se'), se)).toBe('alice@region.se');
    expect(transformSubject(parseDial('46812345678@foreign.example'), se)).toBe('46812345678@foreign.example');
  });

  it('tests the international prefix before the national one', () => {
    expect(toE164('0046812345', se)).toBe('+46812345');
    expect(toE164('0812345', se)).toBe('+46812345');
  });
});
