/**
 * Two knude gatekeepers as neighbours over real UDP: an ARQ at one for an alias registered at
 * the other is answered after an LRQ/LCF between them; an alias nobody has gets ARJ after the
 * neighbour's LRJ; a neighbour that does not answer costs only the location timeout. In a
 * hierarchy (region → national → region) an LRQ with hops to spare is passed on by the
 * gatekeeper in the middle.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DialPlanRouter } from '../../src/dialplan/router.js';
import { DialPlanStore } from '../../src/dialplan/store.js';
import { parseGatekeeperConfig } from '../../src/h323/config.js';
import { startGatekeeper, type Gatekeeper } from '../../src/h323/gatekeeper.js';
import { addressOf } from '../../src/h323/ras.js';
import { decodeRas, encodeRas, ipv4Address, type RasMessage } from '../../src/h323/index.js';
import dgram from 'node:dgram';
import { registrarMigrations } from '../../src/registrar/migrations.js';
import { migrate, openDatabase, type Db } from '../../src/store/database.js';
import { arq, RasClient } from '../fixtures/h323/ras-client.js';
import { freePort } from '../helpers/ports.js';

const log = pino({ level: process.env.KNUDE_TEST_H323_LOG ? 'debug' : 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'knude-h323-nb-'));

function plan(file: string, org: string, block: string): { db: Db; plan: DialPlanStore; router: DialPlanRouter } {
  const db = openDatabase(join(dir, file));
  migrate(db, registrarMigrations);
  const p = new DialPlanStore(db);
  p.updateSettings({ countryCode: '46', nationalPrefix: '0', internationalPrefix: '00' });
  p.createOrg({ name: org });
  p.addBlock(org, block);
  return { db, plan: p, router: new DialPlanRouter(p) };
}


describe('H.323 neighbour gatekeepers (LRQ)', () => {
  const worlds = [plan('skane.db', 'region-skane', '+4640'), plan('vg.db', 'vgregion', '+4631')];
  let skane: Gatekeeper;
  let vg: Gatekeeper;
  const clients: RasClient[] = [];

  beforeAll(async () => {
    const [pSkane, pVg, silent] = [await freePort('udp'), await freePort('udp'), await freePort('udp')];
    // Endpoints register numbers inside their organisation's block (unplannedAliases: allow).
    vg = await startGatekeeper({ router: worlds[1].router, plan: worlds[1].plan, config: parseGatekeeperConfig({ port: pVg, unplannedAliases: 'allow', neighbourGatekeepers: [`127.0.0.1:${pSkane}`] }), log });
    skane = await startGatekeeper({
      router: worlds[0].router,
      plan: worlds[0].plan,
      // The third neighbour never answers: it must not hold the call up past the timeout.
      config: parseGatekeeperConfig({ port: pSkane, unplannedAliases: 'allow', neighbourGatekeepers: [`127.0.0.1:${pVg}`, `127.0.0.1:${silent}`], locationTimeoutMs: 1500 }),
      log,
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await skane?.stop();
    await vg?.stop();
    for (const w of worlds) w.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('admits a call to an alias registered at the neighbour, with the address its LCF gave', async () => {
    const alice = await RasClient.open({ host: '127.0.0.1', port: skane.port });
    const bob = await RasClient.open({ host: '127.0.0.1', port: vg.port });
    clients.push(alice, bob);
    const a = await alice.request(alice.rrq([{ dialedDigits: '46401234' }]));
    const b = await bob.request(bob.rrq([{ dialedDigits: '4631100' }]));
    const aliceId = (a as { registrationConfirm: { endpointIdentifier: string } }).registrationConfirm.endpointIdentifier;
    expect(b).toMatchObject({ registrationConfirm: {} });
    const bobSignal = vg.registrations()[0]!.callSignalAddress[0]!;

    const acf = (await alice.request(arq(alice, aliceId, '4631100', 1), 5000)) as { admissionConfirm?: { destCallSignalAddress: Parameters<typeof addressOf>[0] } };
    expect(acf.admissionConfirm, JSON.stringify(acf)).toBeDefined();
    const got = addressOf(acf.admissionConfirm!.destCallSignalAddress)!;
    expect(`${got.host}:${got.port}`).toBe(bobSignal);

    // Nobody has this alias: the neighbour's LRJ and the silent one's timeout give ARJ.
    const started = Date.now();
    const arj = await alice.request(arq(alice, aliceId, '4699999', 2), 5000);
    expect(arj).toMatchObject({ admissionReject: {} });
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('H.323 gatekeeper hierarchy (LRQ passed on with hopCount)', () => {
  const worlds = [plan('h-skane.db', 'region-skane', '+4640'), plan('h-national.db', 'national', '+4611'), plan('h-vg.db', 'vgregion', '+4631'), plan('h-gotland.db', 'region-gotland', '+46498')];
  const gks: Gatekeeper[] = [];
  const clients: RasClient[] = [];
  let skane: Gatekeeper; // asks with hopCount 2
  let gotland: Gatekeeper; // asks with hopCount 1
  let vg: Gatekeeper;

  beforeAll(async () => {
    const [pSkane, pNational, pVg, pGotland] = [await freePort('udp'), await freePort('udp'), await freePort('udp'), await freePort('udp')];
    const start = (w: (typeof worlds)[number], port: number, neighbours: number[], extra: Record<string, unknown> = {}) =>
      startGatekeeper({ router: w.router, plan: w.plan, config: parseGatekeeperConfig({ port, unplannedAliases: 'allow', neighbourGatekeepers: neighbours.map((p) => `127.0.0.1:${p}`), locationTimeoutMs: 1500, ...extra }), log });
    gks.push(await start(worlds[1], pNational, [pSkane, pVg, pGotland]));
    vg = await start(worlds[2], pVg, [pNational]);
    skane = await start(worlds[0], pSkane, [pNational], { lrqHopCount: 2, locationTimeoutMs: 3000 });
    gotland = await start(worlds[3], pGotland, [pNational]);
    gks.push(vg, skane, gotland);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    for (const g of gks) await g.stop();
    for (const w of worlds) w.db.close();
  });

  it('finds an alias two gatekeepers away when the LRQ has the hops for it, and not otherwise', async () => {
    const bob = await RasClient.open({ host: '127.0.0.1', port: vg.port });
    const alice = await RasClient.open({ host: '127.0.0.1', port: skane.port });
    const gustav = await RasClient.open({ host: '127.0.0.1', port: gotland.port });
    clients.push(alice, bob, gustav);
    expect(await bob.request(bob.rrq([{ dialedDigits: '4631100' }]))).toMatchObject({ registrationConfirm: {} });
    const bobSignal = vg.registrations()[0]!.callSignalAddress[0]!;
    const idOf = (m: unknown) => (m as { registrationConfirm: { endpointIdentifier: string } }).registrationConfirm.endpointIdentifier;
    const aliceId = idOf(await alice.request(alice.rrq([{ dialedDigits: '46401234' }])));
    const gustavId = idOf(await gustav.request(gustav.rrq([{ dialedDigits: '46498123' }])));

    // Skåne asks the national gatekeeper with hopCount 2; it does not know 4631100 and asks Västra Götaland.
    const acf = (await alice.request(arq(alice, aliceId, '4631100', 1), 6000)) as { admissionConfirm?: { destCallSignalAddress: Parameters<typeof addressOf>[0] } };
    expect(acf.admissionConfirm, JSON.stringify(acf)).toBeDefined();
    const got = addressOf(acf.admissionConfirm!.destCallSignalAddress)!;
    expect(`${got.host}:${got.port}`).toBe(bobSignal);

    // Gotland asks with hopCount 1: the national gatekeeper may not pass it on.
    expect(await gustav.request(arq(gustav, gustavId, '4631100', 1), 6000)).toMatchObject({ admissionReject: {} });
  });
});

describe('H.323 LRQ passed on to a slow gatekeeper (RIP)', () => {
  const worlds = [plan('r-skane.db', 'region-skane', '+4640'), plan('r-national.db', 'national', '+4611')];
  const gks: Gatekeeper[] = [];
  let slow: dgram.Socket;
  let alice: RasClient | undefined;

  afterAll(async () => {
    await alice?.close();
    for (const g of gks) await g.stop();
    slow?.close();
    for (const w of worlds) w.db.close();
  });

  it('waits past its own timeout when the gatekeeper in the middle says the answer is coming', async () => {
    // A neighbour of the national gatekeeper that takes 2.5 s to answer any LRQ with an LCF.
    slow = dgram.createSocket('udp4');
    await new Promise<void>((r) => slow.bind(0, '127.0.0.1', () => r()));
    slow.on('message', (data, from) => {
      const msg = decodeRas(data) as RasMessage & { locationRequest?: { requestSeqNum: number } };
      if (!msg.locationRequest) return;
      const lcf: RasMessage = { locationConfirm: { requestSeqNum: msg.locationRequest.requestSeqNum, callSignalAddress: ipv4Address('127.0.0.1', 1720), rasAddress: ipv4Address('127.0.0.1', slow.address().port) } } as RasMessage;
      setTimeout(() => slow.send(encodeRas(lcf), from.port, from.address), 2500);
    });
    const [pSkane, pNational] = [await freePort('udp'), await freePort('udp')];
    gks.push(
      await startGatekeeper({ router: worlds[1].router, plan: worlds[1].plan, config: parseGatekeeperConfig({ port: pNational, unplannedAliases: 'allow', neighbourGatekeepers: [`127.0.0.1:${pSkane}`, `127.0.0.1:${slow.address().port}`], locationTimeoutMs: 5000, requestInProgressMs: 300 }), log }),
    );
    const skane = await startGatekeeper({ router: worlds[0].router, plan: worlds[0].plan, config: parseGatekeeperConfig({ port: pSkane, unplannedAliases: 'allow', neighbourGatekeepers: [`127.0.0.1:${pNational}`], lrqHopCount: 2, locationTimeoutMs: 1500 }), log });
    gks.push(skane);
    alice = await RasClient.open({ host: '127.0.0.1', port: skane.port });
    const reg = await alice.request(alice.rrq([{ dialedDigits: '46401234' }]));
    const aliceId = (reg as { registrationConfirm: { endpointIdentifier: string } }).registrationConfirm.endpointIdentifier;

    const started = Date.now();
    const acf = (await alice.request(arq(alice, aliceId, '4631777', 1), 8000)) as { admissionConfirm?: { destCallSignalAddress: Parameters<typeof addressOf>[0] } };
    expect(acf.admissionConfirm, JSON.stringify(acf)).toBeDefined();
    expect(addressOf(acf.admissionConfirm!.destCallSignalAddress)).toEqual({ host: '127.0.0.1', port: 1720 });
    // Longer than Skåne's own 1.5 s location timeout: the RIP extended it.
    expect(Date.now() - started).toBeGreaterThan(2000);
  }, 20_000);
});
