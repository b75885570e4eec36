/**
 * The SRTP policy on bridged calls (endpoint to endpoint): an offer without encryption is
 * refused with 488 and a Warning before anyone rings; an SRTP offer answered with SRTP is
 * connected; a callee answering an SRTP offer with plain RTP gets a BYE and the caller 488.
 * A delayed offer (INVITE without SDP) is passed through: the callee's offer in its 200 and the
 * caller's answer in its ACK are held to the same policy; so is a re-INVITE without SDP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { describeSippResult, runSipp, sippAvailable, startSippServer } from '../helpers/sipp.js';
import { startKnude, type TestNode } from './knude-harness.js';

const skipReason = sippAvailable() ? undefined : 'sipp is not installed';

describe.skipIf(!!skipReason)('SRTP required on bridged calls', () => {
  let k: TestNode;

  beforeAll(async () => {
    k = await startKnude({ overrides: { calls: { requireSrtp: true } } });
    k.node.plan.createOrg({ name: 'region-skane' });
    k.node.plan.addBlock('region-skane', '+4640');
    k.addAccount('region-skane', 'alice', 'alice-pw', ['+46401001']);
    k.addAccount('region-skane', 'bob', 'bob-pw', ['+46401002']);
  }, 30_000);

  afterAll(async () => {
    await k?.stop();
  });

  async function bob(scenario: string, keys: Record<string, string | number> = {}) {
    const port = await freePort('both');
    const reg = await runSipp({ scenario: 'register-auth.xml', target: k.sip, localPort: port, service: 'bob', auth: { user: 'bob', password: 'bob-pw' }, keys: { expires: 300 }, timeoutMs: 10_000 });
    expect(reg.ok, describeSippResult(reg)).toBe(true);
    return startSippServer({ scenario, localPort: port, service: 'bob', count: 1, timeoutMs: 30_000, keys });
  }

  const alice = (scenario: string, keys: Record<string, string | number> = {}) =>
    runSipp({ scenario, target: k.sip, service: '+46401002', auth: { user: 'alice', password: 'alice-pw' }, authUri: `+46401002@${k.sip}`, keys: { from_user: 'alice', ...keys }, timeoutMs: 30_000 });

  it('refuses a plain RTP offer with 488 before the callee rings', async () => {
    const r = await alice('uac-expect-status.xml', { expect_status: 488 });
    expect(r.ok, describeSippResult(r)).toBe(true);
    expect((await k.node.capacity.usage()).ports).toBe(0);
  });

  it('connects an SRTP offer answered with SRTP', async () => {
    const callee = await bob('uas-answer-savp.xml');
    const r = await alice('uac-call-savp.xml', { hold_ms: 300 });
    expect(r.ok, describeSippResult(r)).toBe(true);
    expect((await callee.done).ok).toBe(true);
    // Its call detail record: answered, who ended it, the SRTP suite the offer used.
    const legs = k.node.stats.cdr.legs({ from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 1000) });
    const rec = legs.find((l) => l.callerOrg === 'region-skane' && l.answer);
    expect(rec).toMatchObject({ kind: 'audio', calleeOrg: 'region-skane', srtpSuite: 'AES_CM_128_HMAC_SHA1_80', cause: { text: 'BYE', side: 'caller' } });
  }, 60_000);

  it('refuses a callee that answers an SRTP offer with plain RTP: caller 488, callee BYE', async () => {
    const callee = await bob('uas-answer.xml'); // answers RTP/AVP whatever it was offered, then waits for BYE
    const r = await alice('uac-expect-status-savp.xml', { expect_status: 488 });
    expect(r.ok, describeSippResult(r)).toBe(true);
    const c = await callee.done;
    expect(c.ok, describeSippResult(c)).toBe(true);
    await expect.poll(async () => (await k.node.capacity.usage()).ports).toBe(0);
  }, 60_000);

  it("passes a re-INVITE without SDP on: the callee's fresh SRTP offer to the caller, the caller's answer back in the ACK", async () => {
    const callee = await bob('uas-offerless-reinvite.xml');
    const r = await alice('uac-offerless-reinvite.xml');
    expect(r.ok, describeSippResult(r)).toBe(true);
    const c = await callee.done;
    expect(c.ok, describeSippResult(c)).toBe(true);
    await expect.poll(async () => (await k.node.capacity.usage()).ports).toBe(0);
  }, 60_000);

  describe('delayed offer (INVITE without SDP)', () => {
    it("passes it through: the callee offers SRTP in its 200, the caller's SRTP answer reaches it in the ACK", async () => {
      const callee = await bob('uas-offer-in-200.xml');
      const r = await alice('uac-late-offer-auth.xml', { expect: 'connected' });
      expect(r.ok, describeSippResult(r)).toBe(true);
      const c = await callee.done;
      expect(c.ok, describeSippResult(c)).toBe(true);
      const legs = k.node.stats.cdr.legs({ from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 1000) });
      // Counted as video (what the port would cost before the offer is known); the suite is the callee's offer's.
      const rec = legs.filter((l) => l.callerOrg === 'region-skane' && l.answer).at(-1);
      expect(rec).toMatchObject({ kind: 'video', srtpSuite: 'AES_CM_128_HMAC_SHA1_80', cause: { text: 'BYE', side: 'caller' } });
      await expect.poll(async () => (await k.node.capacity.usage()).ports).toBe(0);
    }, 60_000);

    it("refuses a callee's plain RTP offer: the caller gets 488, the callee its ACK and a BYE", async () => {
      const callee = await bob('uas-offer-in-200.xml', { offer_proto: 'RTP/AVP', ack_answer: 0 });
      const r = await alice('uac-late-offer-auth.xml', { expect: 'refused' });
      expect(r.ok, describeSippResult(r)).toBe(true);
      const c = await callee.done;
      expect(c.ok, describeSippResult(c)).toBe(true);
      await expect.poll(async () => (await k.node.capacity.usage()).ports).toBe(0);
    }, 60_000);

    it("hangs up both sides when the caller's answer in the ACK drops SRTP", async () => {
      const callee = await bob('uas-offer-in-200.xml', { ack_answer: 0 });
      const r = await alice('uac-late-offer-auth.xml', { expect: 'hung-up', answer_proto: 'RTP/AVP' });
      expect(r.ok, describeSippResult(r)).toBe(true);
      const c = await callee.done;
      expect(c.ok, describeSippResult(c)).toBe(true);
      await expect.poll(async () => (await k.node.capacity.usage()).ports).toBe(0);
    }, 60_000);
  });
});
