/**
 * Conformance against an independent decoder: every RAS message type the codec produces, and
 * every datagram a live gatekeeper exchanged with real UDP test clients, is written to a pcap
 * and dissected by Wireshark's H.225.0 dissector (tshark, Debian package `tshark`). No frame may
 * be malformed or carry an expert note, and the fields tshark reads must be the ones we sent.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCapacityConfig } from '../../src/capacity/config.js';
import { SqliteCapacityLedger } from '../../src/capacity/sqlite.js';
import { DialPlanRouter } from '../../src/dialplan/router.js';
import { DialPlanStore } from '../../src/dialplan/store.js';
import { parseGatekeeperConfig } from '../../src/h323/config.js';
import { startGatekeeper } from '../../src/h323/gatekeeper.js';
import { writePcap, type PcapDatagram } from '../../src/h323/pcap.js';
import { H225_PROTOCOL_ID, decodeRas, encodeRas, ipv4Address, rasType, requestSeqNum, type RasMessage } from '../../src/h323/ras.js';
import { AccountStore } from '../../src/registrar/accounts.js';
import { registrarMigrations } from '../../src/registrar/migrations.js';
import { migrate, openDatabase } from '../../src/store/database.js';
import { RasClient } from '../fixtures/h323/ras-client.js';
import { sampleMessages } from '../fixtures/h323/messages.js';
import { bytesOf, realCaptures } from '../fixtures/h323/real-captures.js';

const dir = mkdtempSync(join(tmpdir(), 'knude-h323-tshark-'));
const GK = { host: '192.0.2.1', port: 1719 };
const EP = { host: '192.0.2.10', port: 1719 };

function tsharkAvailable(): boolean {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Every key/value tshark reports for a frame, flattened (values of repeated keys all kept). */
type Fields = Map<string, string[]>;

function flatten(node: unknown, out: Fields): void {
  if (Array.isArray(node)) {
    for (const n of node) flatten(n, out);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const [k, v] of Object.entries(node)) {
    if (typeof v === 'string') {
      out.set(k, [...(out.get(k) ?? []), v]);
    } else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
      out.set(k, [...(out.get(k) ?? []), ...(v as string[])]);
    } else {
      // Subtrees: also record the key so '_ws.malformed' or '_ws.expert' as objects are seen.
      out.set(k, [...(out.get(k) ?? []), '']);
      flatten(v, out);
    }
  }
}

function dissect(datagrams: PcapDatagram[], name: string): Fields[] {
  const file = join(dir, `${name}.pcap`);
  writeFileSync(file, writePcap(datagrams));
  const json = execFileSync('tshark', ['-r', file, '-d', 'udp.port==1719,h225', '-T', 'json', '--no-duplicate-keys'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
  const frames = JSON.parse(json) as Array<{ _source: { layers: Record<string, unknown> } }>;
  return frames.map((f) => {
    const fields: Fields = new Map();
    flatten(f._source.layers, fields);
    return fields;
  });
}

/** Wireshark's name for a message's RasMessage alternative, e.g. registrationReject → registrationReject_element. */
function expectClean(fields: Fields, label: string): void {
  const problems = [...fields.keys()].filter((k) => k.startsWith('_ws.malformed') || k.startsWith('_ws.expert') || k === '_ws.short' || k.startsWith('per.error'));
  expect(problems, `${label}: tshark reported ${problems.join(', ')}`).toEqual([]);
  expect(fields.has('h225.RasMessage'), `${label}: not dissected as RAS`).toBe(true);
}

describe.runIf(tsharkAvailable())('RAS messages dissected by tshark', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('decodes every message type of the codec with no malformed frame, and reads the values we encoded', () => {
    const datagrams = sampleMessages.map(({ msg }, i) => ({ src: i % 2 ? GK : EP, dst: i % 2 ? EP : GK, payload: encodeRas(msg) }));
    const frames = dissect(datagrams, 'samples');
    expect(frames).toHaveLength(sampleMessages.length);
    frames.forEach((fields, i) => {
      const { name, msg } = sampleMessages[i]!;
      expectClean(fields, name);
      expect(fields.get('h225.requestSeqNum'), name).toEqual([String(requestSeqNum(msg))]);
      expect(fields.has(`h225.${rasType(msg)}_element`), `${name}: tshark saw ${[...fields.keys()].filter((k) => k.endsWith('_element')).join(',')}`).toBe(true);
    });
    const byName = (n: string) => frames[sampleMessages.findIndex((s) => s.name === n)]!;
    const rrq = byName('RRQ full');
    expect(rrq.get('h225.dialledDigits')).toEqual(['4640123456']);
    expect(rrq.get('h225.h323_ID')).toEqual(['Sjukhuset Lund Rum 3 – Söderström']);
    expect(rrq.get('h225.url_ID')).toEqual(['h323:rum3@skane.se']);
    expect(rrq.get('h225.email_ID')).toEqual(['rum3@skane.se']);
    expect(rrq.get('h225.publicNumberDigits')).toEqual(['4640123456']);
    expect(rrq.get('h225.timeToLive')).toEqual(['300']);
    expect(rrq.get('h225.keepAlive')).toEqual(['0']);
    expect(rrq.get('h225.standard')).toEqual(['18', '19', '1']);
    expect(byName('RRQ keep-alive').get('h225.keepAlive')).toEqual(['1']);
    expect(byName('RRQ keep-alive').get('h225.endpointIdentifier')).toEqual(['knude-0123456789ab']);
    // RegistrationRejectReason index 4 is duplicateAlias.
    expect(byName('RRJ duplicateAlias').get('h225.rejectReason')).toEqual(['4']);
    expect(byName('RRJ duplicateAlias').has('h225.duplicateAlias')).toBe(true);
    expect(byName('ACF').get('h225.bandWidth')).toEqual(['7680']);
    expect(byName('ACF').get('h225.ipV4')).toEqual(['192.0.2.20']);
    expect(byName('RIP').get('h225.delay')).toEqual(['5000']);
    expect(byName('LRQ').get('h225.hopCount')).toEqual(['3']);
    const h235 = byName('RRQ with H.235 tokens');
    expect(h235.get('h225.cryptoEPPwdHash_element') ?? h235.get('h225.cryptoEPPwdHash')).toBeDefined();
    expect(h235.get('h235.algorithmOID')).toEqual(['1.2.840.113549.2.5']);
    expect(h235.get('h235.timeStamp')).toContain('Nov 14, 2023 22:13:20.000000000 UTC');
  });

  it('decodes the real-world captures the unit tests decode, without errors', () => {
    const frames = dissect(realCaptures.map((c) => ({ src: EP, dst: GK, payload: bytesOf(c.hex) })), 'real');
    frames.forEach((fields, i) => expectClean(fields, realCaptures[i]!.name));
    expect(frames[0]!.get('h225.h323_ID')).toContain('test');
    expect(frames[0]!.get('h235.algorithmOID')).toEqual(['1.2.840.113549.2.5']);
  });

  describe('a live gatekeeper session', () => {
    const exchanged: PcapDatagram[] = [];
    const expected: Array<{ type: string; seq: number }> = [];

    beforeAll(async () => {
      const db = openDatabase(':memory:');
      migrate(db, registrarMigrations);
      const plan = new DialPlanStore(db);
      plan.updateSettings({ ownDomains: ['video.example.se'] });
      plan.createOrg({ name: 'region-skane' });
      plan.addBlock('region-skane', '+4640');
      const accounts = new AccountStore(db);
      accounts.add({ org: 'region-skane', username: 'alice', password: 'pw', realm: 'video.example.se' });
      plan.addAlias({ alias: '+46401234', kind: 'account', target: 'alice@video.example.se', org: 'region-skane', public: true });
      plan.addAlias({ alias: '+46401299', kind: 'account', target: 'alice@video.example.se', org: 'region-skane', public: false });
      const ledger = new SqliteCapacityLedger(db, parseCapacityConfig({}));
      const gk = await startGatekeeper({
        router: new DialPlanRouter(plan),
        plan,
        capacity: ledger,
        accounts,
        config: parseGatekeeperConfig({ port: 0, minTimeToLive: 1, defaultTimeToLive: 2, interworkingGateway: '127.0.0.1:1720' }),
        log: pino({ level: 'silent' }),
      });
      const a = await RasClient.open({ host: '127.0.0.1', port: gk.port });
      const b = await RasClient.open({ host: '127.0.0.1', port: gk.port });
      // Each exchange goes into the pcap as the endpoint's request and knude's answer.
      const ask = async (c: RasClient, msg: RasMessage): Promise<RasMessage> => {
        const answer = await c.request(msg);
        exchanged.push({ src: EP, dst: GK, payload: encodeRas(msg) }, { src: GK, dst: EP, payload: c.received[c.received.length - 1]! });
        expected.push({ type: rasType(msg), seq: requestSeqNum(msg)! }, { type: rasType(answer), seq: requestSeqNum(answer)! });
        return answer;
      };
      try {
        const terminal = { terminal: {}, mc: false, undefinedNode: false };
        await ask(a, { gatekeeperRequest: { requestSeqNum: a.nextSeq(), protocolIdentifier: H225_PROTOCOL_ID, rasAddress: ipv4Address('127.0.0.1', a.port), endpointType: terminal } });
        await ask(a, { gatekeeperRequest: { requestSeqNum: a.nextSeq(), protocolIdentifier: H225_PROTOCOL_ID, rasAddress: ipv4Address('127.0.0.1', a.port), endpointType: terminal, gatekeeperIdentifier: 'other' } });
        const rcf = await ask(a, a.rrq([{ dialedDigits: '46401234' }, { 'h323-ID': 'alice' }], { timeToLive: 1 }));
        const id = (rcf as { registrationConfirm: { endpointIdentifier: string } }).registrationConfirm.endpointIdentifier;
        // H.460.18: knude wakes the endpoint with an SCI; the endpoint answers SCR.
        const woken = gk.indicateIncomingCall(id, { callSignalAddress: { host: '127.0.0.1', port: 1720 }, callId: Buffer.alloc(16, 7) });
        const sci = await a.unsolicited(2000);
        const scr: RasMessage = { serviceControlResponse: { requestSeqNum: requestSeqNum(sci)!, result: { started: null } } };
        a.sendRaw(encodeRas(scr));
        await woken;
        exchanged.push({ src: GK, dst: EP, payload: a.received[a.received.length - 1]! }, { src: EP, dst: GK, payload: encodeRas(scr) });
        expected.push({ type: rasType(sci), seq: requestSeqNum(sci)! }, { type: 'serviceControlResponse', seq: requestSeqNum(sci)! });
        await ask(b, b.rrq([{ dialedDigits: '46401234' }]));
        await ask(b, b.rrq([], { keepAlive: true, endpointIdentifier: 'nobody', terminalAlias: undefined }));
        await ask(a, a.rrq([], { keepAlive: true, endpointIdentifier: id, terminalAlias: undefined, timeToLive: 1 }));
        const call = (dest: string, n: number): RasMessage => ({
          admissionRequest: {
            requestSeqNum: a.nextSeq(), callType: { pointToPoint: null }, endpointIdentifier: id, destinationInfo: [{ dialedDigits: dest }], srcInfo: [{ dialedDigits: '46401234' }],
            bandWidth: 7680, callReferenceValue: n, conferenceID: Buffer.alloc(16, n), activeMC: false, answerCall: false, canMapAlias: false, callIdentifier: { guid: Buffer.alloc(16, n) }, willSupplyUUIEs: false, canMapSrcAlias: false,
          },
        });
        await ask(a, call('46401234', 1));
        await ask(a, call('4640999', 2));
        await ask(b, { locationRequest: { requestSeqNum: b.nextSeq(), destinationInfo: [{ dialedDigits: '46401234' }], replyAddress: ipv4Address('127.0.0.1', b.port), canMapAlias: false, canMapSrcAlias: false } });
        await ask(b, { locationRequest: { requestSeqNum: b.nextSeq(), destinationInfo: [{ dialedDigits: '46401299' }], replyAddress: ipv4Address('127.0.0.1', b.port), canMapAlias: false, canMapSrcAlias: false } });
        const brq = (eid: string): RasMessage => ({ bandwidthRequest: { requestSeqNum: a.nextSeq(), endpointIdentifier: eid, conferenceID: Buffer.alloc(16, 1), callReferenceValue: 1, bandWidth: 3840 } });
        await ask(a, brq(id));
        await ask(a, brq('nobody'));
        const drq = (eid: string): RasMessage => ({ disengageRequest: { requestSeqNum: a.nextSeq(), endpointIdentifier: eid, conferenceID: Buffer.alloc(16, 1), callReferenceValue: 1, disengageReason: { normalDrop: null }, callIdentifier: { guid: Buffer.alloc(16, 1) }, answeredCall: false } });
        await ask(a, drq(id));
        await ask(a, drq('nobody'));
        await ask(b, { nonStandardMessage: { requestSeqNum: b.nextSeq(), nonStandardData: { nonStandardIdentifier: { object: '1.3.6.1.4.1.99999' }, data: Buffer.from('?') } } });
        await ask(b, { unregistrationRequest: { requestSeqNum: b.nextSeq(), callSignalAddress: [], endpointIdentifier: 'nobody' } });
        // Not refreshed again: the registration expires and knude sends URQ ttlExpired.
        const urq = await a.unsolicited(5000);
        exchanged.push({ src: GK, dst: EP, payload: a.received[a.received.length - 1]! });
        expected.push({ type: rasType(urq), seq: requestSeqNum(urq)! });
        const rcf2 = await ask(a, a.rrq([{ dialedDigits: '46401234' }]));
        const id2 = (rcf2 as { registrationConfirm: { endpointIdentifier: string } }).registrationConfirm.endpointIdentifier;
        await ask(a, { unregistrationRequest: { requestSeqNum: a.nextSeq(), callSignalAddress: [ipv4Address('127.0.0.1', a.port + 1)], endpointIdentifier: id2 } });
      } finally {
        await Promise.all([a.close(), b.close()]);
        await gk.stop();
        await ledger.close();
        db.close();
      }
    });

    it('covers every message type the gatekeeper emits', () => {
      const fromKnude = new Set(expected.filter((_, i) => exchanged[i]!.src === GK).map((e) => e.type));
      expect([...fromKnude].sort()).toEqual(
        [
          'admissionConfirm', 'admissionReject', 'bandwidthConfirm', 'bandwidthReject', 'disengageConfirm', 'disengageReject', 'gatekeeperConfirm', 'gatekeeperReject',
          'locationConfirm', 'locationReject', 'registrationConfirm', 'registrationReject', 'serviceControlIndication', 'unknownMessageResponse', 'unregistrationConfirm', 'unregistrationReject', 'unregistrationRequest',
        ].sort(),
      );
    });

    it('every datagram of the session dissects cleanly with the requestSeqNum and message type we expect', () => {
      const frames = dissect(exchanged, 'session');
      expect(frames).toHaveLength(exchanged.length);
      frames.forEach((fields, i) => {
        const e = expected[i]!;
        const label = `frame ${i + 1} (${e.type})`;
        expectClean(fields, label);
        expect(fields.has(`h225.${e.type}_element`), label).toBe(true);
        expect(fields.get('h225.requestSeqNum')?.[0], label).toBe(String(e.seq));
        // And our own decoder agrees with what went over the wire.
        expect(rasType(decodeRas(exchanged[i]!.payload))).toBe(e.type);
      });
      const rrj = frames.filter((_, i) => expected[i]!.type === 'registrationReject');
      expect(rrj.map((f) => f.get('h225.rejectReason')?.[0])).toEqual(['4', '12']); // duplicateAlias, fullRegistrationRequired
      expect(rrj[0]!.get('h225.dialledDigits')).toEqual(['46401234']);
      const urq = frames[expected.findIndex((e) => e.type === 'unregistrationRequest' && exchanged[expected.indexOf(e)]!.src === GK)]!;
      expect(urq.get('h225.reason')).toEqual(['1']); // ttlExpired
    });
  });
});

describe.runIf(!tsharkAvailable())('RAS messages dissected by tshark', () => {
  it('needs tshark (Debian package tshark)', () => {
    throw new Error('tshark is not installed: apt-get install -y tshark');
  });
});
