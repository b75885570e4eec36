import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase, type Db } from '../../src/store/database.js';
import {
  aorFor,
  BindingStore,
  remainingSeconds,
  sameContactUri,
  type RegisterRequest,
} from '../../src/registrar/bindings.js';
import { IntervalTooBriefError, InvalidRegisterError, OutOfOrderRegisterError } from '../../src/registrar/errors.js';
import { registrarMigrations } from '../../src/registrar/migrations.js';

const T0 = 1_700_000_000_000;
const AOR = 'sip:alice@knude.local';
const FROM = { transport: 'udp', address: '203.0.113.7', port: 40123 };

let db: Db;
let store: BindingStore;

beforeEach(() => {
  db = openDatabase(':memory:');
  migrate(db, registrarMigrations);
  store = new BindingStore(db);
});

function reg(patch: Partial<RegisterRequest> = {}): RegisterRequest {
  return {
    aor: AOR,
    callId: 'call-1',
    cseq: 1,
    contacts: [{ uri: 'sip:alice@192.168.1.10:5060' }],
    defaultExpires: 600,
    minExpires: 60,
    maxExpires: 3600,
    now: T0,
    receivedFrom: FROM,
    ...patch,
  };
}

describe('sameContactUri (RFC 3261 §19.1.4)', () => {
  it.each([
    ['sip:alice@Example.COM;Transport=TCP', 'SIP:alice@example.com;transport=tcp', true],
    ['sip:%61lice@example.com', 'sip:alice@example.com', true],
    ['sip:alice@example.com;ob;a=1', 'sip:alice@example.com;a=1;ob', true],
    ['sip:alice@example.com;foo=1', 'sip:alice@example.com', true], // other params only compared when in both
    ['sip:alice@[2001:db8::1]:5070', 'sip:alice@[2001:DB8::1]:5070', true],
    ['sip:ALICE@example.com', 'sip:alice@example.com', false],
    ['sip:alice@example.com', 'sip:alice@example.com:5060', false],
    ['sip:alice@example.com;transport=tcp', 'sip:alice@example.com', false],
    ['sip:alice@example.com;foo=1', 'sip:alice@example.com;foo=2', false],
    ['sip:alice@example.com', 'sips:alice@example.com', false],
    ['sip:alice@example.com?Subject=x', 'sip:alice@example.com', false],
    ['tel:+4712345678', 'tel:+4712345678', true],
    ['tel:+4712345678', 'TEL:+4712345678', false],
  ])('%s vs %s → %s', (a, b, same) => {
    expect(sameContactUri(a, b)).toBe(same);
    expect(sameContactUri(b, a)).toBe(same);
  });
});

describe('BindingStore.applyRegister', () => {
  it('adds a binding with the default expiry and returns the full list', () => {
    const r = store.applyRegister(reg({ userAgent: 'Cisco/CE9.15', path: ['<sip:edge1.knude.local;lr>'] }));
    expect(r.bindings).toHaveLength(1);
    expect(r.added).toEqual(r.bindings);
    expect(r.bindings[0]).toMatchObject({
      aor: AOR,
      contactUri: 'sip:alice@192.168.1.10:5060',
      callId: 'call-1',
      cseq: 1,
      expiresAt: T0 + 600_000,
      receivedFrom: FROM,
      userAgent: 'Cisco/CE9.15',
      path: ['<sip:edge1.knude.local;lr>'],
      updatedAt: T0,
    });
    expect(remainingSeconds(r.bindings[0]!, T0 + 1)).toBe(600);
    expect(store.count()).toBe(1);
  });

  it('takes the contact expires over the Expires header over the default, and clamps to max', () => {
    const r = store.applyRegister(
      reg({
        expires: 900,
        contacts: [
          { uri: 'sip:a@10.0.0.1', expires: 120 },
          { uri: 'sip:a@10.0.0.2' },
          { uri: 'sip:a@10.0.0.3', expires: 86_400 },
          { uri: 'sip:a@10.0.0.4', expires: 2 ** 40 },
        ],
      }),
    );
    const byUri = Object.fromEntries(r.bindings.map((b) => [b.contactUri, remainingSeconds(b, T0)]));
    expect(byUri).toEqual({ 'sip:a@10.0.0.1': 120, 'sip:a@10.0.0.2': 900, 'sip:a@10.0.0.3': 3600, 'sip:a@10.0.0.4': 3600 });
  });

  it('refuses a too brief interval with 423 and Min-Expires, changing nothing', () => {
    store.applyRegister(reg());
    try {
      store.applyRegister(reg({ cseq: 2, contacts: [{ uri: 'sip:alice@192.168.1.10:5060' }, { uri: 'sip:b@x', expires: 30 }] }));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(IntervalTooBriefError);
      expect(err).toMatchObject({ minExpires: 60, requested: 30, sipStatus: 423 });
    }
    expect(store.lookup(AOR, T0)).toHaveLength(1);
    expect(store.lookup(AOR, T0)[0]!.cseq).toBe(1);
  });

  it('only refuses brief intervals below one hour (RFC 3261 §10.3 step 7)', () => {
    const r = store.applyRegister(reg({ minExpires: 7200, maxExpires: 10_000, contacts: [{ uri: 'sip:a@h', expires: 3600 }] }));
    expect(remainingSeconds(r.bindings[0]!, T0)).toBe(3600);
    expect(() => store.applyRegister(reg({ cseq: 2, minExpires: 7200, contacts: [{ uri: 'sip:a@h', expires: 3599 }] }))).toThrow(
      IntervalTooBriefError,
    );
  });

  it('refreshes with a higher CSeq and refuses an equal or lower one on the same Call-ID', () => {
    store.applyRegister(reg());
    const r = store.applyRegister(reg({ cseq: 2, now: T0 + 10_000 }));
    expect(r.added).toEqual([]);
    expect(r.updated).toHaveLength(1);
    expect(r.bindings[0]).toMatchObject({ cseq: 2, expiresAt: T0 + 610_000, updatedAt: T0 + 10_000 });
    expect(() => store.applyRegister(reg({ cseq: 2 }))).toThrow(OutOfOrderRegisterError);
    expect(() => store.applyRegister(reg({ cseq: 1 }))).toThrow(/CSeq 1, not above the stored 2/);
    // A different Call-ID (the UA rebooted) may use any CSeq.
    expect(store.applyRegister(reg({ callId: 'call-2', cseq: 1 })).bindings[0]).toMatchObject({ callId: 'call-2', cseq: 1 });
  });

  it('matches contacts by URI equivalence, not string equality', () => {
    store.applyRegister(reg({ contacts: [{ uri: 'sip:alice@Host.Example;transport=TCP' }] }));
    const r = store.applyRegister(reg({ cseq: 2, contacts: [{ uri: 'sip:alice@host.example;transport=tcp' }] }));
    expect(r.bindings).toHaveLength(1);
    expect(r.bindings[0]!.contactUri).toBe('sip:alice@host.example;transport=tcp');
  });

  it('expires=0 removes that contact only', () => {
    store.applyRegister(reg({ contacts: [{ uri: 'sip:a@1.1.1.1' }, { uri: 'sip:a@2.2.2.2' }] }));
    const r = store.applyRegister(reg({ cseq: 2, contacts: [{ uri: 'sip:a@1.1.1.1', expires: 0 }] }));
    expect(r.bindings.map((b) => b.contactUri)).toEqual(['sip:a@2.2.2.2']);
    expect(r.removed.map((b) => b.contactUri)).toEqual(['sip:a@1.1.1.1']);
    // Removing an unknown contact is a no-op, and Expires: 0 applies to contacts without a parameter.
    expect(store.applyRegister(reg({ cseq: 3, expires: 0, contacts: [{ uri: 'sip:a@9.9.9.9' }] })).bindings).toHaveLength(1);
    expect(store.applyRegister(reg({ cseq: 4, expires: 0, contacts: [{ uri: 'sip:a@2.2.2.2' }] })).bindings).toEqual([]);
  });

  it('an out-of-order contact aborts the whole REGISTER', () => {
    store.applyRegister(reg({ cseq: 5, contacts: [{ uri: 'sip:a@1.1.1.1' }] }));
    expect(() =>
      store.applyRegister(reg({ callId: 'call-1', cseq: 4, contacts: [{ uri: 'sip:a@2.2.2.2' }, { uri: 'sip:a@1.1.1.1' }] })),
    ).toThrow(OutOfOrderRegisterError);
    expect(store.lookup(AOR, T0).map((b) => b.contactUri)).toEqual(['sip:a@1.1.1.1']);
  });

  it('a Contact listed twice in one REGISTER is not out of order', () => {
    const r = store.applyRegister(reg({ contacts: [{ uri: 'sip:a@1.1.1.1', q: 0.5 }, { uri: 'sip:a@1.1.1.1', q: 0.7 }] }));
    expect(r.bindings).toHaveLength(1);
    expect(r.bindings[0]!.q).toBe(0.7);
  });

  it('Contact: * with Expires: 0 removes every binding', () => {
    store.applyRegister(reg({ contacts: [{ uri: 'sip:a@1.1.1.1' }, { uri: 'sip:a@2.2.2.2' }] }));
    store.applyRegister(reg({ callId: 'other', cseq: 9, contacts: [{ uri: 'sip:a@3.3.3.3' }] }));
    const r = store.applyRegister(reg({ cseq: 2, star: true, contacts: [], expires: 0 }));
    expect(r.bindings).toEqual([]);
    expect(r.removed).toHaveLength(3);
    expect(store.count()).toBe(0);
  });

  it('Contact: * is refused with other contacts, without Expires: 0, or out of order', () => {
    store.applyRegister(reg({ cseq: 3 }));
    expect(() => store.applyRegister(reg({ cseq: 4, star: true, expires: 0 }))).toThrow(InvalidRegisterError);
    expect(() => store.applyRegister(reg({ cseq: 4, star: true, contacts: [], expires: 60 }))).toThrow(/Expires: 0/);
    expect(() => store.applyRegister(reg({ cseq: 4, star: true, contacts: [] }))).toThrow(InvalidRegisterError);
    expect(() => store.applyRegister(reg({ cseq: 3, star: true, contacts: [], expires: 0 }))).toThrow(OutOfOrderRegisterError);
    expect(store.count()).toBe(1);
  });

  it('a REGISTER without contacts is a query', () => {
    store.applyRegister(reg());
    const r = store.applyRegister(reg({ callId: 'q', cseq: 1, contacts: [] }));
    expect(r.bindings).toHaveLength(1);
    expect([r.added, r.updated, r.removed]).toEqual([[], [], []]);
  });

  it('RFC 5626: same +sip.instance and reg-id replaces the old flow; another reg-id is another flow', () => {
    const instanceId = '<urn:uuid:00000000-0000-1000-8000-000a95a0e128>';
    store.applyRegister(reg({ contacts: [{ uri: 'sip:alice@10.0.0.5:5060;ob', instanceId, regId: 1 }] }));
    store.applyRegister(
      reg({
        callId: 'flow-2',
        contacts: [{ uri: 'sip:alice@10.0.0.5:5060;ob', instanceId, regId: 2 }],
        receivedFrom: { transport: 'tcp', address: '198.51.100.9', port: 5066, flowId: 'f2' },
      }),
    );
    expect(store.lookup(AOR, T0)).toHaveLength(2);
    // The UA rebooted: new Call-ID, new address, new Contact; same instance and reg-id.
    const r = store.applyRegister(
      reg({
        callId: 'reboot',
        contacts: [{ uri: 'sip:alice@10.0.0.99:5060;ob', instanceId, regId: 1 }],
        receivedFrom: { transport: 'tls', address: '198.51.100.20', port: 61000, flowId: 'f9' },
        now: T0 + 5000,
      }),
    );
    expect(r.bindings).toHaveLength(2);
    expect(r.updated).toHaveLength(1);
    expect(r.updated[0]).toMatchObject({ regId: 1, contactUri: 'sip:alice@10.0.0.99:5060;ob', receivedFrom: { flowId: 'f9' } });
    expect(r.bindings.find((b) => b.regId === 2)!.receivedFrom).toEqual({
      transport: 'tcp',
      address: '198.51.100.9',
      port: 5066,
      flowId: 'f2',
    });
  });

  it('a UA that starts sending +sip.instance replaces its plain binding; unregistering without it works', () => {
    store.applyRegister(reg());
    const withInstance = store.applyRegister(
      reg({ cseq: 2, contacts: [{ uri: 'sip:alice@192.168.1.10:5060', instanceId: '<urn:uuid:1>' }] }),
    );
    expect(withInstance.bindings).toHaveLength(1);
    expect(withInstance.bindings[0]!.instanceId).toBe('<urn:uuid:1>');
    const r = store.applyRegister(reg({ cseq: 3, contacts: [{ uri: 'sip:alice@192.168.1.10:5060', expires: 0 }] }));
    expect(r.bindings).toEqual([]);
  });

  it('validates the request', () => {
    expect(() => store.applyRegister(reg({ cseq: -1 }))).toThrow(InvalidRegisterError);
    expect(() => store.applyRegister(reg({ cseq: 2 ** 31 }))).toThrow(InvalidRegisterError);
    expect(() => store.applyRegister(reg({ contacts: [{ uri: 'sip:a@b', expires: -5 }] }))).toThrow(InvalidRegisterError);
    expect(() => store.applyRegister(reg({ contacts: [{ uri: 'sip:a@b\r\nVia: x' }] }))).toThrow(InvalidRegisterError);
    expect(() => store.applyRegister(reg({ contacts: [{ uri: 'sip:a@b', q: 1.5 }] }))).toThrow(/outside 0..1/);
    expect(() => store.applyRegister(reg({ contacts: [{ uri: 'sip:a@b', regId: 1 }] }))).toThrow(/\+sip.instance/);
    expect(() => store.applyRegister(reg({ callId: '' }))).toThrow(InvalidRegisterError);
    expect(store.count()).toBe(0);
  });

  it('treats expired bindings as gone and reports them', () => {
    store.applyRegister(reg({ cseq: 7, contacts: [{ uri: 'sip:a@1.1.1.1', expires: 60 }] }));
    // After expiry the old Call-ID/CSeq no longer constrain anything.
    const r = store.applyRegister(reg({ cseq: 1, now: T0 + 61_000, contacts: [{ uri: 'sip:a@1.1.1.1' }] }));
    expect(r.expired.map((b) => b.cseq)).toEqual([7]);
    expect(r.added).toHaveLength(1);
    expect(store.count()).toBe(1);
  });
});

describe('BindingStore lookup / expire / count / removeAll', () => {
  it('lookup returns live bindings, highest q first, then most recent', () => {
    store.applyRegister(reg({ callId: 'c1', contacts: [{ uri: 'sip:a@1.1.1.1', q: 0.1 }] }));
    store.applyRegister(reg({ callId: 'c2', contacts: [{ uri: 'sip:a@2.2.2.2' }], now: T0 + 1 }));
    store.applyRegister(reg({ callId: 'c3', contacts: [{ uri: 'sip:a@3.3.3.3', q: 0.9, expires: 60 }], now: T0 + 2 }));
    store.applyRegister(reg({ callId: 'c4', contacts: [{ uri: 'sip:a@4.4.4.4', q: 1 }], now: T0 + 3 }));
    expect(store.lookup(AOR, T0 + 10).map((b) => b.contactUri)).toEqual([
      'sip:a@4.4.4.4',
      'sip:a@2.2.2.2',
      'sip:a@3.3.3.3',
      'sip:a@1.1.1.1',
    ]);
    expect(store.lookup(AOR, T0 + 62_002).map((b) => b.contactUri)).not.toContain('sip:a@3.3.3.3');
    expect(store.lookup('sip:nobody@knude.local', T0)).toEqual([]);
  });

  it('expire deletes and returns what is due; count counts stored or live', () => {
    store.applyRegister(reg({ contacts: [{ uri: 'sip:a@1.1.1.1', expires: 60 }, { uri: 'sip:a@2.2.2.2', expires: 120 }] }));
    store.applyRegister(reg({ aor: 'sip:bob@knude.local', contacts: [{ uri: 'sip:b@3.3.3.3', expires: 60 }] }));
    expect(store.count()).toBe(3);
    expect(store.count(T0 + 60_000)).toBe(1);
    expect(store.expire(T0 + 59_999)).toEqual([]);
    const gone = store.expire(T0 + 60_000);
    expect(gone.map((b) => b.contactUri).sort()).toEqual(['sip:a@1.1.1.1', 'sip:b@3.3.3.3']);
    expect(gone[0]).toHaveProperty('receivedFrom', FROM);
    expect(store.count()).toBe(1);
  });

  it('removeAll drops an AOR', () => {
    store.applyRegister(reg({ contacts: [{ uri: 'sip:a@1.1.1.1' }, { uri: 'sip:a@2.2.2.2' }] }));
    expect(store.removeAll(AOR)).toHaveLength(2);
    expect(store.count()).toBe(0);
  });

  it('aorFor lower-cases the realm only', () => {
    expect(aorFor('Alice', 'Knude.LOCAL')).toBe('sip:Alice@knude.local');
  });
});

describe('persistence', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('bindings survive closing and reopening the database', () => {
    dir = mkdtempSync(join(tmpdir(), 'knude-bindings-'));
    const file = join(dir, 'knude.db');
    const first = openDatabase(file);
    migrate(first, registrarMigrations);
    new BindingStore(first).applyRegister(
      reg({
        contacts: [{ uri: 'sip:alice@10.0.0.5;ob', q: 0.8, instanceId: '<urn:uuid:1>', regId: 1 }],
        path: ['<sip:edge.knude.local;lr>'],
        userAgent: 'Pexip',
        receivedFrom: { transport: 'wss', address: '198.51.100.1', port: 443, flowId: 'ws-1' },
      }),
    );
    first.close();

    const second = openDatabase(file);
    migrate(second, registrarMigrations);
    const again = new BindingStore(second);
    expect(again.lookup(AOR, T0)).toEqual([
      {
        id: expect.any(Number),
        aor: AOR,
        contactUri: 'sip:alice@10.0.0.5;ob',
        callId: 'call-1',
        cseq: 1,
        expiresAt: T0 + 600_000,
        q: 0.8,
        instanceId: '<urn:uuid:1>',
        regId: 1,
        path: ['<sip:edge.knude.local;lr>'],
        receivedFrom: { transport: 'wss', address: '198.51.100.1', port: 443, flowId: 'ws-1' },
        userAgent: 'Pexip',
        updatedAt: T0,
      },
    ]);
    expect(() => again.applyRegister(reg({ cseq: 1, contacts: [{ uri: 'sip:x@y' }] }))).not.toThrow();
    second.close();
  });
});

describe('throughput', () => {
  it('handles REGISTER refreshes well above 1,000/s', () => {
    const n = 5000;
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      store.applyRegister(reg({ aor: `sip:u${i % 1000}@knude.local`, callId: `c${i % 1000}`, cseq: i + 1 }));
    }
    const perSecond = n / ((performance.now() - start) / 1000);
    expect(store.count()).toBe(1000);
    expect(perSecond).toBeGreaterThan(1000);
  });
});
