import type Srf from 'drachtio-srf';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SessionTimer, tooBrief } from '../../src/sip/app/session-timer.js';

const cfg = { sessionExpiresSeconds: 1800, minSessionExpiresSeconds: 90 };
const invite = (headers: Record<string, string>) => ({ get: (n: string) => headers[n] }) as unknown as Srf.SrfRequest;

describe('RFC 4028 session timers', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('refuses an interval under Min-SE with 422', () => {
    expect(tooBrief(invite({ 'Session-Expires': '30' }), cfg)).toEqual({ status: 422, headers: { 'Min-SE': '90' } });
    expect(tooBrief(invite({ 'Session-Expires': '90;refresher=uac' }), cfg)).toBeUndefined();
    expect(tooBrief(invite({}), cfg)).toBeUndefined();
  });

  it('grants the asked interval up to our maximum, the caller refreshing', () => {
    expect(new SessionTimer(invite({ 'Session-Expires': '600', Supported: 'timer' }), cfg, () => {}).headers()).toEqual({ 'Session-Expires': '600;refresher=uac', Require: 'timer', Supported: 'timer' });
    expect(new SessionTimer(invite({ 'Session-Expires': '7200' }), cfg, () => {}).interval).toBe(1800);
    expect(new SessionTimer(invite({ Supported: 'replaces, timer' }), cfg, () => {}).interval).toBe(1800);
    // A caller without timers: nothing to run, nothing required of it.
    const none = new SessionTimer(invite({ Supported: 'replaces' }), cfg, () => {});
    expect(none.interval).toBe(0);
    expect(none.headers()).toEqual({ Supported: 'timer' });
  });

  it('ends a session nobody refreshes, and not one that is refreshed', () => {
    const expired = vi.fn();
    const t = new SessionTimer(invite({ 'Session-Expires': '120', Supported: 'timer' }), cfg, expired);
    t.refreshed();
    vi.advanceTimersByTime(100_000);
    t.refreshed(); // a re-INVITE or UPDATE
    vi.advanceTimersByTime(100_000);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(20_001);
    expect(expired).toHaveBeenCalledTimes(1);
    t.refreshed();
    t.stop();
    vi.advanceTimersByTime(200_000);
    expect(expired).toHaveBeenCalledTimes(1);
  });
});
