/**
 * The gatekeeper over real UDP on loopback, with a real SQLite store (plan, accounts, capacity
 * ledger on a temp file) and RAS test clients that are real UDP endpoints.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCapacityConfig } from '../../src/capacity/config.js';
import { SqliteCapacityLedger } from '../../src/capacity/sqlite.js';
import { DialPlanRouter } from '../../src/dialplan/router.js';
import { DialPlanStore } from '../../src/dialplan/store.js';
import { parseGatekeeperConfig } from '../../src/h323/config.js';
import { startGatekeeper, type Gatekeeper } from '../../src/h323/gatekeeper.js';
import { endpointPwdHash } from '../../src/h323/h235.js';
import { readIncomingCall } from '../../src/h323/h46018.js';
import { H225_PROTOCOL_ID, addressOf, encodeRas, ipv4Address, type AdmissionRequest, type RasMessage } from '../../src/h323/ras.js';
import { AccountStore } from '../../src/registrar/accounts.js';
import { registrarMigrations } from '../../src/registrar/migrations.js';
import { migrate, openDatabase, type Db } from '../../src/store/database.js';
import { arq, RasClient } from '../fixtures/h323/ras-client.js';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'knude-h323-'));
const DOMAIN = 'video.example.se';

interface World {
  db: Db;
  plan: DialPlanStore;
  router: DialPlanRouter;
  accounts: AccountStore;
  ledger: SqliteCapacityLedger;
}

function world(file: string): World {
  const db = openDatabase(join(dir, file));
  migrate(db, registrarMigrations);
  const plan = new DialPlanStore(db);
  plan.updateSettings({ ownDomains: [DOMAIN], countryCode: '46', nationalPrefix: '0', internationalPrefix: '00' });
  plan.createOrg({ name: 'region-skane' });
  plan.addBlock('region-skane', '+4640');
  plan.addDomain('region-skane', 'skane.se');
  plan.createOrg({ name: 'vgregion' });
  plan.addBlock('vgregion', '+4631');
  const accounts = new AccountStore(db);
  for (const [org, user, alias, pub] of [
    ['region-skane', 'alice', '+46401234', false],
    ['region-skane', 'alex', '+46401235', false],
    ['vgregion', 'bob', '+4631100', true],
    ['vgregion', 'carol', '+4631200', false],
  ] as const) {
    accounts.add({ org, username: user, password: `${user}-pw`, realm: DOMAIN });
    plan.addAlias({ alias, kind: 'account', target: `${user}@${DOMAIN}`, org, public: pub });
  }
  const ledger = new SqliteCapacityLedger(db, parseCapacityConfig({ orgQuotas: { 'region-skane': 1 } }));
  return { db, plan, router: new DialPlanRouter(plan), accounts, ledger };
}

const seqOf = (m: RasMessage) => (Object.values(m)[0] as { requestSeqNum: number }).requestSeqNum;


function drq(c: RasClient, endpointIdentifier: string, guid: number, answeredCall = false): RasMessage {
  return {
    disengageRequest: {
      requestSeqNum: c.nextSeq(),
      endpointIdentifier,
      conferenceID: Buffer.alloc(16, guid),
      callReferenceValue: guid,
      disengageReason: { normalDrop: null },
      callIdentifier: { guid: Buffer.alloc(16, guid) },
      answeredCall,
    },
  };
}

describe('H.323 gatekeeper over UDP', () => {
  let w: World;
  let gk: Gatekeeper;
  let alice: RasClient;
  let bob: RasClient;
  let other: RasClient;
  let aliceId: string;
  let bobId: string;

  beforeAll(async () => {
    w = world('gk.db');
    gk = await startGatekeeper({
      router: w.router,
      plan: w.plan,
      capacity: w.ledger,
      accounts: w.accounts,
      config: parseGatekeeperConfig({ port: 0, gatekeeperId: 'knude-test', interworkingGateway: '127.0.0.1:1720', minTimeToLive: 60 }),
      log,
    });
    const at = { host: '127.0.0.1', port: gk.port };
    [alice, bob, other] = await Promise.all([RasClient.open(at), RasClient.open(at), RasClient.open(at)]);
  });

  afterAll(async () => {
    await Promise.all([alice, bob, other].map((c) => c?.close()));
    await gk?.stop();
    await w?.ledger.close();
    w?.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers GRQ with its identifier and RAS address, and GRJ to a GRQ for another gatekeeper', async () => {
    const grq = (gatekeeperIdentifier?: string): RasMessage => ({
      gatekeeperRequest: {
        requestSeqNum: alice.nextSeq(),
        protocolIdentifier: H225_PROTOCOL_ID,
        rasAddress: ipv4Address('127.0.0.1', alice.port),
        endpointType: { terminal: {}, mc: false, undefinedNode: false },
        ...(gatekeeperIdentifier ? { gatekeeperIdentifier } : {}),
      },
    });
    const gcf = await alice.request(grq());
    if (!('gatekeeperConfirm' in gcf)) throw new Error(`expected GCF, got ${JSON.stringify(gcf)}`);
    expect(gcf.gatekeeperConfirm.gatekeeperIdentifier).toBe('knude-test');
    expect(addressOf(gcf.gatekeeperConfirm.rasAddress)).toEqual({ host: '127.0.0.1', port: gk.port });
    const grj = await alice.request(grq('somebody-else'));
    expect(grj).toMatchObject({ gatekeeperReject: { rejectReason: { terminalExcluded: null } } });
  });

  it('registers endpoints by E.164 and h323-ID aliases of accounts in the plan (RRQ/RCF)', async () => {
    const rcf = await alice.request(alice.rrq([{ dialedDigits: '0401234' }], { timeToLive: 10 }));
    if (!('registrationConfirm' in rcf)) throw new Error(`expected RCF, got ${JSON.stringify(rcf)}`);
    aliceId = rcf.registrationConfirm.endpointIdentifier;
    expect(aliceId).toMatch(/^knude-test-[0-9a-f]{12}$/);
    // Asked for 10 s, clamped to the configured minimum.
    expect(rcf.registrationConfirm.timeToLive).toBe(60);
    const rcf2 = await bob.request(bob.rrq([{ 'h323-ID': 'bob' }, { dialedDigits: '4631100' }]));
    if (!('registrationConfirm' in rcf2)) throw new Error(`expected RCF, got ${JSON.stringify(rcf2)}`);
    bobId = rcf2.registrationConfirm.endpointIdentifier;
    const regs = gk.registrations();
    expect(regs).toHaveLength(2);
    expect(regs.find((r) => r.endpointId === aliceId)).toMatchObject({ protocol: 'h323', keys: ['+46401234'], account: `alice@${DOMAIN}`, org: 'region-skane', vendor: 'knude-test 1', timeToLive: 60 });
    expect(regs.find((r) => r.endpointId === bobId)).toMatchObject({ keys: [`bob@${DOMAIN}`, '+4631100'], account: `bob@${DOMAIN}`, org: 'vgregion' });
  });

  it('refuses an alias another endpoint holds (RRJ duplicateAlias) and aliases outside the plan (invalidAlias)', async () => {
    const dup = await other.request(other.rrq([{ dialedDigits: '46401234' }]));
    expect(dup).toMatchObject({ registrationReject: { rejectReason: { duplicateAlias: [{ dialedDigits: '46401234' }] } } });
    const outside = await other.request(other.rrq([{ dialedDigits: '4670111222' }]));
    expect(outside).toMatchObject({ registrationReject: { rejectReason: { invalidAlias: null } } });
    const mixed = await other.request(other.rrq([{ dialedDigits: '46401235' }, { dialedDigits: '4631200' }]));
    expect(mixed).toMatchObject({ registrationReject: { rejectReason: { invalidAlias: null } } });
    expect(gk.registrations()).toHaveLength(2);
  });

  it('refreshes a registration with a lightweight RRQ and asks unknown ones for a full registration', async () => {
    const before = gk.registrations().find((r) => r.endpointId === aliceId)!.expiresAt;
    await new Promise((r) => setTimeout(r, 20));
    const keepAlive = (endpointIdentifier: string) =>
      alice.rrq([], { keepAlive: true, endpointIdentifier, timeToLive: 120, terminalAlias: undefined });
    const rcf = await alice.request(keepAlive(aliceId));
    expect(rcf).toMatchObject({ registrationConfirm: { endpointIdentifier: aliceId, timeToLive: 120 } });
    const after = gk.registrations().find((r) => r.endpointId === aliceId)!;
    expect(Date.parse(after.expiresAt)).toBeGreaterThan(Date.parse(before));
    expect(after.timeToLive).toBe(120);
    expect(await alice.request(keepAlive('knude-test-000000000000'))).toMatchObject({ registrationReject: { rejectReason: { fullRegistrationRequired: null } } });
  });

  it('admits a call to an H.323-registered alias (ARQ/ACF), counts both legs, and DRQ gives them back', async () => {
    const acf = await alice.request(arq(alice, aliceId, '4631100', 1));
    if (!('admissionConfirm' in acf)) throw new Error(`expected ACF, got ${JSON.stringify(acf)}`);
    expect(acf.admissionConfirm.callModel).toEqual({ direct: null });
    expect(addressOf(acf.admissionConfirm.destCallSignalAddress)).toEqual({ host: '127.0.0.1', port: bob.port + 1 });
    expect(acf.admissionConfirm.bandWidth).toBe(7680);
    let usage = await w.ledger.usage();
    expect(usage.ports).toBe(1);
    expect(usage.orgs['region-skane']?.ports).toBe(1);

    // The callee asks to answer.
    const answer = await bob.request(arq(bob, bobId, null, 1, { answerCall: true, srcInfo: [{ dialedDigits: '46401234' }] }));
    expect(answer).toMatchObject({ admissionConfirm: { callModel: { direct: null } } });
    usage = await w.ledger.usage();
    expect(usage.ports).toBe(2);
    expect(usage.orgs.vgregion?.ports).toBe(1);

    // A retransmitted ARQ gets the same ACF and no second port.
    const again = await alice.request(arq(alice, aliceId, '4631100', 1));
    expect(again).toMatchObject({ admissionConfirm: { destCallSignalAddress: acf.admissionConfirm.destCallSignalAddress } });
    expect((await w.ledger.usage()).ports).toBe(2);
    expect(gk.admissions()).toHaveLength(2);

    expect(await alice.request(drq(alice, aliceId, 1))).toMatchObject({ disengageConfirm: {} });
    expect((await w.ledger.usage()).ports).toBe(1);
    expect(await bob.request(drq(bob, bobId, 1, true))).toMatchObject({ disengageConfirm: {} });
    usage = await w.ledger.usage();
    expect(usage.ports).toBe(0);
    expect(gk.admissions()).toHaveLength(0);
  });

  it('admits a call to a SIP-only account of another organisation through the interworking gateway', async () => {
    const acf = await alice.request(arq(alice, aliceId, '4631200', 2));
    if (!('admissionConfirm' in acf)) throw new Error(`expected ACF, got ${JSON.stringify(acf)}`);
    expect(addressOf(acf.admissionConfirm.destCallSignalAddress)).toEqual({ host: '127.0.0.1', port: 1720 });
    const usage = await w.ledger.usage();
    expect(usage.ports).toBe(1);
    // region-skane's quota is 1 port: a second concurrent call is refused with the capacity reason.
    expect(await alice.request(arq(alice, aliceId, '4631100', 3))).toMatchObject({ admissionReject: { rejectReason: { exceedsCallCapacity: null } } });
    expect((await w.ledger.usage()).ports).toBe(1);
    await alice.request(drq(alice, aliceId, 2));
    expect((await w.ledger.usage()).ports).toBe(0);
  });

  it('refuses ARQs with the right reason', async () => {
    const reasonOf = async (m: RasMessage) => {
      const r = await alice.request(m);
      if (!('admissionReject' in r)) throw new Error(`expected ARJ, got ${JSON.stringify(r)}`);
      return Object.keys(r.admissionReject.rejectReason)[0];
    };
    expect(await reasonOf(arq(alice, 'knude-test-ffffffffffff', '4631100', 4))).toBe('callerNotRegistered');
    // A number in an organisation's block that nobody has: not registered.
    expect(await reasonOf(arq(alice, aliceId, '4640999', 5))).toBe('calledPartyNotRegistered');
    expect(await reasonOf(arq(alice, aliceId, null, 6))).toBe('incompleteAddress');
    expect((await w.ledger.usage()).ports).toBe(0);
  });

  it('answers LRQ from other gatekeepers: public aliases are located, others refused', async () => {
    const lrq = (digits: string): RasMessage => ({
      locationRequest: { requestSeqNum: other.nextSeq(), destinationInfo: [{ dialedDigits: digits }], replyAddress: ipv4Address('127.0.0.1', other.port), canMapAlias: false, canMapSrcAlias: false },
    });
    const lcf = await other.request(lrq('4631100'));
    if (!('locationConfirm' in lcf)) throw new Error(`expected LCF, got ${JSON.stringify(lcf)}`);
    expect(addressOf(lcf.locationConfirm.callSignalAddress)).toEqual({ host: '127.0.0.1', port: bob.port + 1 });
    expect(addressOf(lcf.locationConfirm.rasAddress)).toEqual({ host: '127.0.0.1', port: bob.port });
    expect(await other.request(lrq('46401234'))).toMatchObject({ locationReject: { rejectReason: { requestDenied: null } } });
    expect(await other.request(lrq('4670999'))).toMatchObject({ locationReject: {} });
  });

  it('answers BRQ, ignores garbage, answers unknown requests with XRS', async () => {
    const bcf = await alice.request({
      bandwidthRequest: { requestSeqNum: alice.nextSeq(), endpointIdentifier: aliceId, conferenceID: Buffer.alloc(16, 9), callReferenceValue: 9, bandWidth: 1e6, callIdentifier: { guid: Buffer.alloc(16, 9) }, answeredCall: false },
    });
    expect(bcf).toMatchObject({ bandwidthConfirm: { bandWidth: 81920 } });
    alice.sendRaw(Buffer.from('ffffffffffffffff', 'hex'));
    alice.sendRaw(Buffer.alloc(0));
    const n = alice.nextSeq();
    const xrs = await alice.request({ nonStandardMessage: { requestSeqNum: n, nonStandardData: { nonStandardIdentifier: { object: '1.2.3' }, data: Buffer.from('x') } } });
    expect(xrs).toMatchObject({ unknownMessageResponse: { requestSeqNum: n } });
  });

  it('unregisters (URQ/UCF) and then refuses what the endpoint asks (URJ, ARJ)', async () => {
    const urq = (endpointIdentifier: string): RasMessage => ({
      unregistrationRequest: { requestSeqNum: bob.nextSeq(), callSignalAddress: [ipv4Address('127.0.0.1', bob.port + 1)], endpointIdentifier },
    });
    expect(await bob.request(urq(bobId))).toMatchObject({ unregistrationConfirm: {} });
    expect(gk.registrations().map((r) => r.endpointId)).not.toContain(bobId);
    expect(await bob.request(urq(bobId))).toMatchObject({ unregistrationReject: { rejectReason: { notCurrentlyRegistered: null } } });
    // Bob's alias is free again: another endpoint may take it.
    const rcf = await other.request(other.rrq([{ dialedDigits: '4631100' }]));
    expect(rcf).toMatchObject({ registrationConfirm: {} });
    expect(seqOf(rcf)).toBeGreaterThan(0);
  });
});

describe('H.323 registration expiry', () => {
  it('expires a registration not refreshed within its timeToLive, tells the endpoint, and releases its calls', async () => {
    const w = world('ttl.db');
    const gk = await startGatekeeper({
      router: w.router,
      plan: w.plan,
      capacity: w.ledger,
      accounts: w.accounts,
      config: parseGatekeeperConfig({ port: 0, minTimeToLive: 1, defaultTimeToLive: 1, interworkingGateway: '127.0.0.1:1720' }),
      log,
    });
    const c = await RasClient.open({ host: '127.0.0.1', port: gk.port });
    try {
      const rcf = await c.request(c.rrq([{ dialedDigits: '4631100' }], { timeToLive: 1 }));
      if (!('registrationConfirm' in rcf)) throw new Error(`expected RCF, got ${JSON.stringify(rcf)}`);
      const id = rcf.registrationConfirm.endpointIdentifier;
      expect(await c.request(arq(c, id, '46401234', 7))).toMatchObject({ admissionConfirm: {} });
      expect((await w.ledger.usage()).ports).toBe(1);
      const urq = await c.unsolicited(5000);
      expect(urq).toMatchObject({ unregistrationRequest: { endpointIdentifier: id, reason: { ttlExpired: null } } });
      expect(gk.registrations()).toHaveLength(0);
      await expect.poll(async () => (await w.ledger.usage()).ports).toBe(0);
      // The endpoint's keep-alive after expiry is told to register again.
      const ka = await c.request(c.rrq([], { keepAlive: true, endpointIdentifier: id, terminalAlias: undefined }));
      expect(ka).toMatchObject({ registrationReject: { rejectReason: { fullRegistrationRequired: null } } });
    } finally {
      await c.close();
      await gk.stop();
      await w.ledger.close();
      w.db.close();
    }
  });

  it('releases admissions still held when the gatekeeper stops', async () => {
    const w = world('stop.db');
    const gk = await startGatekeeper({ router: w.router, plan: w.plan, capacity: w.ledger, accounts: w.accounts, config: parseGatekeeperConfig({ port: 0, interworkingGateway: '127.0.0.1:1720' }), log });
    const c = await RasClient.open({ host: '127.0.0.1', port: gk.port });
    const rcf = await c.request(c.rrq([{ dialedDigits: '4631100' }]));
    const id = (rcf as { registrationConfirm: { endpointIdentifier: string } }).registrationConfirm.endpointIdentifier;
    await c.request(arq(c, id, '46401234', 8));
    expect((await w.ledger.usage()).ports).toBe(1);
    await gk.stop();
    expect((await w.ledger.usage()).ports).toBe(0);
    await c.close();
    await w.ledger.close();
    w.db.close();
  });
});

describe('H.323 gatekeeper without an interworking gateway', () => {
  it('refuses calls to accounts only SIP reaches (calledPartyNotRegistered) and still connects H.323 to H.323', async () => {
    const w = world('nogw.db');
    const gk = await startGatekeeper({ router: w.router, plan: w.plan, capacity: w.ledger, accounts: w.accounts, config: parseGatekeeperConfig({ port: 0 }), log });
    const a = await RasClient.open({ host: '127.0.0.1', port: gk.port });
    const b = await RasClient.open({ host: '127.0.0.1', port: gk.port });
    try {
      const ida = ((await a.request(a.rrq([{ dialedDigits: '4631100' }]))) as { registrationConfirm: { endpointIdentifier: string } }).registrationConfirm.endpointIdentifier;
      await b.request(b.rrq([{ 'url-ID': 'h323:alice@video.example.se' }]));
      expect(await a.request(arq(a, ida, '4631200', 10))).toMatchObject({ admissionReject: { rejectReason: { calledPartyNotRegistered: null } } });
      // alice is registered over H.323 by her URI alias; her number finds her through the plan.
      expect(await a.request(arq(a, ida, '46401234', 11))).toMatchObject({ admissionConfirm: { destCallSignalAddress: { ipAddress: { port: b.port + 1 } } } });
      expect(gk.registrations().find((r) => r.account === `alice@${DOMAIN}`)?.keys).toEqual([`alice@${DOMAIN}`]);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await gk.stop();
      expect((await w.ledger.usage()).ports).toBe(0);
      await w.ledger.close();
      w.db.close();
    }
  });
});

describe('H.323 gatekeeper, slow admissions and H.460.18', () => {
  let w: World;
  let gk: Gatekeeper;
  let c: RasClient;
  let id: string;

  beforeAll(async () => {
    w = world('rip.db');
    // The real ledger, answering late (as a shared PostgreSQL store under load can).
    const reserve = w.ledger.reserve.bind(w.ledger);
    w.ledger.reserve = async (req) => {
      await new Promise((r) => setTimeout(r, 400));
      return reserve(req);
    };
    gk = await startGatekeeper({
      router: w.router,
      plan: w.plan,
      capacity: w.ledger,
      accounts: w.accounts,
      config: parseGatekeeperConfig({ port: 0, requestInProgressMs: 100, interworkingGateway: '127.0.0.1:1720' }),
      log,
    });
    c = await RasClient.open({ host: '127.0.0.1', port: gk.port });
    const rcf = await c.request(c.rrq([{ dialedDigits: '4631100' }], { featureSet: { replacementFeatureSet: false, supportedFeatures: [{ id: { standard: 18 } }] } }));
    id = (rcf as { registrationConfirm: { endpointIdentifier: string } }).registrationConfirm.endpointIdentifier;
  });

  afterAll(async () => {
    await c.close();
    await gk.stop();
    await w.ledger.close();
    w.db.close();
  });

  it('sends RIP while the capacity store is slow, then the ACF; a retransmission meanwhile reserves nothing twice', async () => {
    const m = arq(c, id, '46401234', 20);
    const answer = c.request(m);
    await new Promise((r) => setTimeout(r, 150));
    c.sendRaw(encodeRas(m)); // the endpoint retransmits while waiting
    const rip = await c.unsolicited(2000);
    expect(rip).toMatchObject({ requestInProgress: { requestSeqNum: seqOf(m), delay: 5000 } });
    expect(await answer).toMatchObject({ admissionConfirm: { requestSeqNum: seqOf(m) } });
    expect((await w.ledger.usage()).ports).toBe(1);
    expect(await c.request(drq(c, id, 20))).toMatchObject({ disengageConfirm: {} });
    expect((await w.ledger.usage()).ports).toBe(0);
  });

  it('knows the endpoint asked for H.460.18 and wakes it for an incoming call with SCI, answered by SCR', async () => {
    expect(gk.registrations()[0]).toMatchObject({ endpointId: id, traversal: true });
    const callId = Buffer.alloc(16, 0x42);
    const result = gk.indicateIncomingCall(id, { callSignalAddress: { host: '127.0.0.1', port: 1720 }, callId });
    const sci = await c.unsolicited(2000);
    if (!('serviceControlIndication' in sci)) throw new Error(`expected SCI, got ${JSON.stringify(sci)}`);
    expect(sci.serviceControlIndication.endpointIdentifier).toBe(id);
    const ind = readIncomingCall(sci.serviceControlIndication.genericData);
    expect(addressOf(ind!.callSignallingAddress)).toEqual({ host: '127.0.0.1', port: 1720 });
    expect(ind!.callID.guid.equals(callId)).toBe(true);
    c.sendRaw(encodeRas({ serviceControlResponse: { requestSeqNum: sci.serviceControlIndication.requestSeqNum, result: { started: null } } }));
    expect(await result).toBe('started');
    await expect(gk.indicateIncomingCall('nobody', { callSignalAddress: { host: '127.0.0.1', port: 1720 }, callId })).rejects.toThrow(/no H.323 endpoint nobody/);
  });
});

describe('H.323 gatekeeper with H.235 password authentication', () => {
  it('registers and admits only with the account\'s H.323 password, and refuses replays', async () => {
    const w = world('h235.db');
    const gk = await startGatekeeper({
      router: w.router,
      plan: w.plan,
      capacity: w.ledger,
      accounts: w.accounts,
      config: parseGatekeeperConfig({ port: 0, security: 'h235-password', interworkingGateway: '127.0.0.1:1720' }),
      h235Password: (account) => (account === `alice@${DOMAIN}` ? 'alice-h323' : undefined),
      log,
    });
    const c = await RasClient.open({ host: '127.0.0.1', port: gk.port });
    try {
      const now = Math.floor(Date.now() / 1000);
      const alice = { 'h323-ID': 'alice' } as const;
      const gcf = await c.request({ gatekeeperRequest: { requestSeqNum: c.nextSeq(), protocolIdentifier: H225_PROTOCOL_ID, rasAddress: ipv4Address('127.0.0.1', c.port), endpointType: { terminal: {}, mc: false, undefinedNode: false }, authenticationCapability: [{ pwdHash: null }] } });
      expect(gcf).toMatchObject({ gatekeeperConfirm: { authenticationMode: { pwdHash: null }, algorithmOID: '1.2.840.113549.2.5' } });
      const denied = { registrationReject: { rejectReason: { securityDenial: null } } };
      expect(await c.request(c.rrq([alice]))).toMatchObject(denied);
      expect(await c.request(c.rrq([alice], { cryptoTokens: [endpointPwdHash(alice, 'wrong', now)] }))).toMatchObject(denied);
      expect(await c.request(c.rrq([alice], { cryptoTokens: [endpointPwdHash(alice, 'alice-h323', now - 3600)] }))).toMatchObject(denied);
      // carol has no H.323 password: her aliases cannot register in this mode.
      expect(await c.request(c.rrq([{ dialedDigits: '4631200' }], { cryptoTokens: [endpointPwdHash({ dialedDigits: '4631200' }, 'alice-h323', now)] }))).toMatchObject(denied);
      // A token for alice cannot register someone else's aliases.
      expect(await c.request(c.rrq([{ dialedDigits: '4631100' }], { cryptoTokens: [endpointPwdHash(alice, 'alice-h323', now)] }))).toMatchObject(denied);

      const rcf = await c.request(c.rrq([alice, { dialedDigits: '46401234' }], { cryptoTokens: [endpointPwdHash(alice, 'alice-h323', now)] }));
      if (!('registrationConfirm' in rcf)) throw new Error(`expected RCF, got ${JSON.stringify(rcf)}`);
      const id = rcf.registrationConfirm.endpointIdentifier;
      // An older token than one already accepted is a replay.
      const keepAlive = (ts: number) => c.rrq([], { keepAlive: true, endpointIdentifier: id, terminalAlias: undefined, cryptoTokens: [endpointPwdHash(alice, 'alice-h323', ts)] });
      expect(await c.request(keepAlive(now - 5))).toMatchObject(denied);
      expect(await c.request(keepAlive(now + 1))).toMatchObject({ registrationConfirm: { endpointIdentifier: id } });

      expect(await c.request(arq(c, id, '4631100', 30))).toMatchObject({ admissionReject: { rejectReason: { securityDenial: null } } });
      expect(await c.request(arq(c, id, '4631100', 31, { cryptoTokens: [endpointPwdHash(alice, 'alice-h323', now + 2)] }))).toMatchObject({ admissionConfirm: {} });
      expect((await w.ledger.usage()).ports).toBe(1);
    } finally {
      await c.close();
      await gk.stop();
      expect((await w.ledger.usage()).ports).toBe(0);
      await w.ledger.close();
      w.db.close();
    }
  });
});

describe('H.323 gatekeeper configuration', () => {
  it('is refused with the field named', () => {
    expect(() => parseGatekeeperConfig({ port: 70000 })).toThrow(/h323\.port must be a whole number 0\.\.65535/);
    expect(() => parseGatekeeperConfig({ prot: 1 })).toThrow(/h323\.prot is not an h323 setting/);
    expect(() => parseGatekeeperConfig({ minTimeToLive: 100, defaultTimeToLive: 50 })).toThrow(/defaultTimeToLive/);
    expect(() => parseGatekeeperConfig({ interworkingGateway: 'gw:1720' })).toThrow(/interworkingGateway/);
    expect(() => parseGatekeeperConfig({ lrqHopCount: 0 })).toThrow(/h323\.lrqHopCount must be a whole number 1\.\.255/);
    expect(() => parseGatekeeperConfig({ security: 'h235' })).toThrow(/h323\.security must be "none" or "h235-password"/);
    expect(parseGatekeeperConfig({})).toMatchObject({ enabled: true, address: '127.0.0.1', port: 1719 });
  });

  it('answers GRQ on the discovery port, to the rasAddress the GRQ names', async () => {
    const w = world('disc.db');
    const gk = await startGatekeeper({ router: w.router, plan: w.plan, config: parseGatekeeperConfig({ port: 0, discovery: true, discoveryPort: 0 }), log });
    const c = await RasClient.open({ host: '127.0.0.1', port: gk.discoveryPort! });
    try {
      const gcf = await c.request({ gatekeeperRequest: { requestSeqNum: 77, protocolIdentifier: H225_PROTOCOL_ID, rasAddress: ipv4Address('127.0.0.1', c.port), endpointType: { terminal: {}, mc: false, undefinedNode: false } } });
      if (!('gatekeeperConfirm' in gcf)) throw new Error(`expected GCF, got ${JSON.stringify(gcf)}`);
      // The GCF names the RAS port, where the endpoint registers next.
      expect(addressOf(gcf.gatekeeperConfirm.rasAddress)).toEqual({ host: '127.0.0.1', port: gk.port });
      expect(gk.discoveryPort).not.toBe(gk.port);
    } finally {
      await c.close();
      await gk.stop();
      w.db.close();
    }
  });

  it('bounds registrations and admitted calls per endpoint', async () => {
    const w = world('limits.db');
    const gk = await startGatekeeper({
      router: w.router,
      plan: w.plan,
      accounts: w.accounts,
      config: parseGatekeeperConfig({ port: 0, maxRegistrations: 1, maxCallsPerEndpoint: 1, interworkingGateway: '127.0.0.1:1720' }),
      log,
    });
    const [a, b] = await Promise.all([RasClient.open({ host: '127.0.0.1', port: gk.port }), RasClient.open({ host: '127.0.0.1', port: gk.port })]);
    try {
      const rcf = await a.request(a.rrq([{ dialedDigits: '4631100' }]));
      const id = (rcf as { registrationConfirm: { endpointIdentifier: string } }).registrationConfirm.endpointIdentifier;
      expect(await b.request(b.rrq([{ dialedDigits: '46401234' }]))).toMatchObject({ registrationReject: { rejectReason: { resourceUnavailable: null } } });
      // The endpoint already registered may register again (it replaces itself).
      expect(await a.request(a.rrq([{ dialedDigits: '4631100' }], { endpointIdentifier: id }))).toMatchObject({ registrationConfirm: { endpointIdentifier: id } });
      expect(await a.request(arq(a, id, '46401234', 40))).toMatchObject({ admissionConfirm: {} });
      expect(await a.request(arq(a, id, '46401234', 41))).toMatchObject({ admissionReject: { rejectReason: { resourceUnavailable: null } } });
    } finally {
      await Promise.all([a.close(), b.close()]);
      await gk.stop();
      w.db.close();
    }
  });

  it('a busy port is a clear error', async () => {
    const w = world('busy.db');
    const a = await startGatekeeper({ router: w.router, plan: w.plan, config: parseGatekeeperConfig({ port: 0 }), log });
    await expect(startGatekeeper({ router: w.router, plan: w.plan, config: parseGatekeeperConfig({ port: a.port }), log })).rejects.toThrow(/EADDRINUSE/);
    await a.stop();
    w.db.close();
  });
});


