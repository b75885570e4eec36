/**
 * RFC 4028 session timers where knude answers a call (room calls, the caller's side of a
 * bridged call): the caller refreshes (refresher=uac); a session without a refresh within the
 * interval is over, so a call whose endpoint vanished without a BYE gives its port back.
 */
import type Srf from 'drachtio-srf';

export interface SessionTimerConfig {
  /** Interval knude grants at most (seconds). */
  sessionExpiresSeconds: number;
  /** Shorter requested intervals are refused with 422 (RFC 4028 says at least 90). */
  minSessionExpiresSeconds: number;
}

/** The 422 answer for an INVITE asking for too short an interval, else undefined. */
export function tooBrief(req: Srf.SrfRequest, cfg: SessionTimerConfig): { status: 422; headers: Record<string, string> } | undefined {
  const se = /^\s*(\d+)/.exec(req.get('Session-Expires') ?? '');
  return se && Number(se[1]) < cfg.minSessionExpiresSeconds ? { status: 422, headers: { 'Min-SE': String(cfg.minSessionExpiresSeconds) } } : undefined;
}

export class SessionTimer {
  /** 0: the caller does not do session timers (the media timeout and BYE must do). */
  readonly interval: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    req: Srf.SrfRequest,
    cfg: SessionTimerConfig,
    private readonly onExpiry: () => void,
  ) {
    const se = /^\s*(\d+)/.exec(req.get('Session-Expires') ?? '');
    const supports = /\btimer\b/i.test(req.get('Supported') ?? '') || !!se;
    this.interval = supports ? Math.max(cfg.minSessionExpiresSeconds, Math.min(Number(se?.[1] ?? cfg.sessionExpiresSeconds), cfg.sessionExpiresSeconds)) : 0;
  }

  /** Headers for the 2xx (and for the 2xx to each refresh). */
  headers(): Record<string, string> {
    return this.interval ? { 'Session-Expires': `${this.interval};refresher=uac`, Require: 'timer', Supported: 'timer' } : { Supported: 'timer' };
  }

  /** (Re)starts the interval: at the answer and at every refresh (re-INVITE or UPDATE). */
  refreshed(): void {
    if (!this.interval) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(this.onExpiry, this.interval * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
