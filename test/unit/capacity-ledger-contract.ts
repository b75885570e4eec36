/**
 * The behaviour every CapacityLedger must have, written once and run against each store
 * (SQLite in test/unit/capacity-sqlite.test.ts, PostgreSQL in
 * test/integration/capacity-postgres.test.ts). Not a test file itself: each store's file calls
 * ledgerContract() with a factory that opens a fresh, empty ledger.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseCapacityConfig, type CapacityConfig } from '../../src/capacity/config.js';
import { CapacityRequestError } from '../../src/capacity/errors.js';
import type { CapacityEvent, CapacityLedger, LegKind, Reservation, ReserveResult } from '../../src/capacity/types.js';

export type LedgerFactory = (cfg: CapacityConfig) => Promise<CapacityLedger>;

export function ledgerContract(storeName: string, open: LedgerFactory): void {
  describe(`CapacityLedger contract (${storeName})`, () => {
    const opened: CapacityLedger[] = [];
    afterEach(async () => {
      for (const l of opened.splice(0)) await l.close();
    });
    const ledgerWith = async (partial: Record<string, unknown>): Promise<CapacityLedger> => {
      const l = await open(parseCapacityConfig(partial));
      opened.push(l);
      return l;
    };
    const held = (r: ReserveResult): Reservation => {
      if (!r.ok) throw new Error(`expected admission, got ${r.refusal.cause}: ${r.refusal.reason}`);
      return r.reservation;
    };
    let n = 0;
    const leg = (kind: LegKind = 'video', org = 'region-skane') => ({ legId: `leg-${++n}-${Math.random().toString(36).slice(2)}`, kind, org });

    it('admits up to the port limit, refuses the 21st with 503, Retry-After and a Q.850 Reason, and gives ports back', async () => {
      const ledger = await ledgerWith({ maxPorts: 20, retryAfterSeconds: 45 });
      const admitted: Reservation[] = [];
      for (let i = 0; i < 20; i++) admitted.push(held(await ledger.reserve(leg(i % 3 === 0 ? 'audio' : 'video', `org-${i % 4}`))));
      const refused = await ledger.reserve(leg());
      expect(refused).toEqual({
        ok: false,
        refusal: {
          cause: 'node-ports',
          sipStatus: 503,
          retryAfterSeconds: 45,
          reason: 'Q.850;cause=34;text="node port limit 20 reached"',
          message: 'The video service is busy: all 20 of its connections are in use. Please try again in 45 seconds.',
        },
      });
      expect((await ledger.usage()).ports).toBe(20);
      await admitted[7]!.release();
      const again = held(await ledger.reserve(leg('browser')));
      expect((await ledger.usage()).ports).toBe(20);
      expect((await ledger.reserve(leg())).ok).toBe(false);
      for (const r of [...admitted, again]) await r.release();
      const u = await ledger.usage();
      expect(u).toMatchObject({ ports: 0, licences: 0, media: 0, byKind: { video: 0, audio: 0, browser: 0 }, orgs: {}, nodePorts: 0, nodeMedia: 0 });
    });

    it("refuses an organisation over its quota with 486 and a Reason naming the quota, while others still get in", async () => {
      const ledger = await ledgerWith({ maxPorts: 20, orgQuotas: { 'region-skane': 3 }, defaultOrgQuota: 5 });
      for (let i = 0; i < 3; i++) held(await ledger.reserve(leg('video', 'region-skane')));
      const refused = await ledger.reserve(leg('audio', 'region-skane'));
      expect(refused).toEqual({
        ok: false,
        refusal: {
          cause: 'org-quota',
          sipStatus: 486,
          reason: 'Q.850;cause=17;text="organisation region-skane quota of 3 concurrent ports reached"',
          message: 'Your organisation (region-skane) is already using all 3 of its video connections. Try again when one of its calls has ended.',
        },
      });
      // The default quota applies to organisations without their own entry.
      for (let i = 0; i < 5; i++) held(await ledger.reserve(leg('browser', 'vgregion')));
      const overDefault = await ledger.reserve(leg('browser', 'vgregion'));
      expect(overDefault.ok === false && overDefault.refusal.reason).toBe('Q.850;cause=17;text="organisation vgregion quota of 5 concurrent ports reached"');
      const u = await ledger.usage();
      expect(u.orgs).toEqual({ 'region-skane': { ports: 3, quota: 3 }, vgregion: { ports: 5, quota: 5 } });
      expect(u.ports).toBe(8);
    });

    it('answers a quota refusal with 403 when configured so', async () => {
      const ledger = await ledgerWith({ defaultOrgQuota: 1, quotaStatus: 403 });
      held(await ledger.reserve(leg('video', 'x-org')));
      const r = await ledger.reserve(leg('video', 'x-org'));
      expect(r.ok === false && r.refusal).toMatchObject({ cause: 'org-quota', sipStatus: 403, reason: 'Q.850;cause=21;text="organisation x-org quota of 1 concurrent ports reached"' });
      expect(r.ok === false && r.refusal.retryAfterSeconds).toBeUndefined();
    });

    it('a quota of 0 admits no leg of that organisation', async () => {
      const ledger = await ledgerWith({ orgQuotas: { closed: 0 } });
      const r = await ledger.reserve(leg('audio', 'closed'));
      expect(r.ok === false && r.refusal.message).toBe('Your organisation (closed) has no video connections on this service.');
      expect((await ledger.reserve(leg('audio', 'open'))).ok).toBe(true);
    });

    it('counts licence units by kind exactly and refuses over the licence limit', async () => {
      // 2 units: 16 audio legs at 1/8, then nothing; a video leg needs a whole unit.
      const ledger = await ledgerWith({ maxLicences: 2 });
      const audio: Reservation[] = [];
      for (let i = 0; i < 16; i++) audio.push(held(await ledger.reserve(leg('audio'))));
      expect(audio[0]).toMatchObject({ kind: 'audio', licences: 0.125, media: 0.1 });
      const r = await ledger.reserve(leg('audio'));
      expect(r.ok === false && r.refusal).toEqual({
        cause: 'node-licences',
        sipStatus: 503,
        retryAfterSeconds: 30,
        reason: 'Q.850;cause=47;text="node licence limit 2 reached"',
        message: 'The video service is using all of its licences right now. Please try again in 30 seconds.',
      });
      for (const a of audio.slice(0, 7)) await a.release(); // 9 audio = 1.125 units left
      expect((await ledger.reserve(leg('video'))).ok).toBe(false); // 2.125 > 2
      await audio[7]!.release(); // 1 unit
      const v = held(await ledger.reserve(leg('video')));
      expect(v.licences).toBe(1);
      expect((await ledger.usage()).licences).toBe(2);
    });

    it('keeps media cost exact in thousandths and refuses over the media capacity', async () => {
      const ledger = await ledgerWith({ mediaCapacity: 1 });
      for (let i = 0; i < 10; i++) held(await ledger.reserve(leg('audio'))); // 10 × 0.1 = 1, not 0.9999…
      const r = await ledger.reserve(leg('audio'));
      expect(r.ok === false && r.refusal).toMatchObject({ cause: 'node-media', sipStatus: 503, reason: 'Q.850;cause=47;text="node media capacity 1 reached"' });
      const u = await ledger.usage();
      expect(u.media).toBe(1);
      expect(u.nodeMedia).toBe(1);
    });

    it("checks the node's limits before the organisation's quota", async () => {
      const ledger = await ledgerWith({ maxPorts: 2, defaultOrgQuota: 2 });
      held(await ledger.reserve(leg('video', 'a')));
      held(await ledger.reserve(leg('video', 'a')));
      const r = await ledger.reserve(leg('video', 'a'));
      expect(r.ok === false && r.refusal.cause).toBe('node-ports');
    });

    it('reports usage by kind and organisation, with the quota in force', async () => {
      const ledger = await ledgerWith({ maxPorts: 10, maxLicences: 5, mediaCapacity: 8, orgQuotas: { a: 4 } });
      held(await ledger.reserve({ ...leg('video', 'a'), callerOrg: 'b' }));
      held(await ledger.reserve(leg('audio', 'a')));
      held(await ledger.reserve(leg('browser', 'b')));
      const u = await ledger.usage();
      expect(u).toEqual({
        ports: 3,
        licences: 2.125,
        media: 2.1,
        byKind: { video: 1, audio: 1, browser: 1 },
        orgs: { a: { ports: 2, quota: 4 }, b: { ports: 1, quota: null } },
        limits: { maxPorts: 10, maxLicences: 5, mediaCapacity: 8 },
        nodePorts: 3,
        nodeMedia: 2.1,
      });
    });

    it('gives each port back exactly once: double release, release by id and by handle, unknown ids', async () => {
      const ledger = await ledgerWith({ maxPorts: 5 });
      const events: Array<[string, CapacityEvent]> = [];
      for (const e of ['reserve', 'release', 'refuse'] as const) ledger.on(e, (p) => events.push([e, p]));
      const a = held(await ledger.reserve({ legId: 'a', kind: 'video', org: 'o' }));
      const b = held(await ledger.reserve({ legId: 'b', kind: 'audio', org: 'o' }));
      await a.release();
      await a.release();
      await ledger.release('a');
      await ledger.release('b');
      await b.release();
      await ledger.release('b');
      await ledger.release('never-reserved');
      await ledger.release('');
      await ledger.release(42 as unknown as string);
      expect((await ledger.usage()).ports).toBe(0);
      expect(events.map(([e, p]) => `${e} ${p.legId} ${p.kind} ${p.org}`)).toEqual(['reserve a video o', 'reserve b audio o', 'release a video o', 'release b audio o']);
      for (const [, p] of events) expect(p.at).toBeInstanceOf(Date);
      // Concurrent releases of one leg: still exactly one 'release'.
      const c = held(await ledger.reserve({ legId: 'c', kind: 'browser', org: 'o' }));
      await Promise.all([c.release(), c.release(), ledger.release('c'), ledger.release('c')]);
      expect(events.filter(([e, p]) => e === 'release' && p.legId === 'c')).toHaveLength(1);
      expect((await ledger.usage()).ports).toBe(0);
    });

    it("a stale handle does not free a later reservation of the same leg id", async () => {
      const ledger = await ledgerWith({});
      const first = held(await ledger.reserve({ legId: 'same', kind: 'video', org: 'o' }));
      await ledger.release('same');
      const second = held(await ledger.reserve({ legId: 'same', kind: 'audio', org: 'o' }));
      await first.release();
      expect((await ledger.usage()).byKind).toEqual({ video: 0, audio: 1, browser: 0 });
      await second.release();
      expect((await ledger.usage()).ports).toBe(0);
    });

    it('emits refuse with the cause', async () => {
      const ledger = await ledgerWith({ maxPorts: 0 });
      const seen: CapacityEvent[] = [];
      ledger.on('refuse', (e) => seen.push(e));
      await ledger.reserve({ legId: 'x', kind: 'browser', org: 'o' });
      expect(seen).toMatchObject([{ legId: 'x', kind: 'browser', org: 'o', cause: 'node-ports' }]);
    });

    it('a throwing event listener neither fails the reservation nor leaks the port', async () => {
      const ledger = await ledgerWith({ maxPorts: 1 });
      ledger.on('reserve', () => {
        throw new Error('listener bug');
      });
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.message);
      process.on('warning', onWarning);
      try {
        const r = held(await ledger.reserve(leg()));
        await r.release();
        expect((await ledger.usage()).ports).toBe(0);
        await new Promise((res) => setImmediate(res));
        expect(warnings.some((w) => w.includes("capacity 'reserve' listener failed: listener bug"))).toBe(true);
      } finally {
        process.off('warning', onWarning);
      }
    });

    it('refuses malformed requests and a leg id already held with CapacityRequestError', async () => {
      const ledger = await ledgerWith({});
      await expect(ledger.reserve({ legId: 'x', kind: 'fax' as LegKind, org: 'o' })).rejects.toThrow(/kind must be one of video, audio, browser \(got "fax"\)/);
      await expect(ledger.reserve({ legId: '', kind: 'video', org: 'o' })).rejects.toBeInstanceOf(CapacityRequestError);
      await expect(ledger.reserve({ legId: 'x', kind: 'video', org: '  ' })).rejects.toThrow(/org must be a non-empty string/);
      await expect(ledger.reserve(null as never)).rejects.toBeInstanceOf(CapacityRequestError);
      held(await ledger.reserve({ legId: 'dup', kind: 'video', org: 'o' }));
      await expect(ledger.reserve({ legId: 'dup', kind: 'video', org: 'o' })).rejects.toThrow('leg dup already holds a port');
      expect((await ledger.usage()).ports).toBe(1);
    });

    it('admits exactly the limit out of many concurrent requests and ends at 0', async () => {
      const ledger = await ledgerWith({ maxPorts: 20, defaultOrgQuota: 15 });
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => ledger.reserve(leg(i % 2 ? 'video' : 'browser', i % 3 === 0 ? 'big' : `org-${i % 7}`))));
      const ok = results.filter((r) => r.ok);
      expect(ok).toHaveLength(20);
      expect((await ledger.usage()).ports).toBe(20);
      for (const r of results) if (!r.ok) expect(['node-ports', 'org-quota']).toContain(r.refusal.cause);
      await Promise.all(ok.map((r) => (r.ok ? r.reservation.release() : undefined)));
      expect((await ledger.usage()).ports).toBe(0);
    });
  });
}
