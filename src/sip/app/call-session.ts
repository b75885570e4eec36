import type Srf from 'drachtio-srf';
import type { Logger } from 'pino';
import { nextAck } from './ack.js';
import { SessionTimer, type SessionTimerConfig } from './session-timer.js';

export interface CallTarget {
  /** Request-URI for the B leg (a registered contact, or the callee at a neighbour's trunk). */
  uri: string;
  /** Next hop when it differs from the URI host: the address the contact registered from (NAT). */
  proxy?: string;
  /** Digest credentials if the next hop challenges us (a neighbour zone's trunk). */
  auth?: { username: string; password: string };
}

/**
 * 'parallel' forks to every target at once (the registered contacts of one account).
 * 'serial' tries the targets in order and moves on when one times out or fails with a status
 * that `failoverOn` accepts (redundant trunks of a neighbour zone); with every target failed
 * the caller gets `exhausted`.
 */
export type DialStrategy =
  | { kind: 'parallel' }
  | { kind: 'serial'; attemptTimeoutMs: number; failoverOn: (status: number) => boolean; exhausted: { status: number; reason: string } };

export interface CallSessionOptions {
  srf: Srf;
  req: Srf.SrfRequest;
  res: Srf.SrfResponse;
  targets: CallTarget[];
  /** Headers for every B-leg INVITE (From, To, identity). */
  headers: Record<string, string>;
  ringTimeoutMs: number;
  strategy?: DialStrategy;
  log: Logger;
  /**
   * The media security policy for SDP that crosses the bridge: a refusal (a Warning header
   * value) or undefined. The callee's answer is checked against the caller's offer before the caller
   * is answered; re-INVITE offers from either side are checked before they are passed on.
   */
  security?: { offer(sdp: string): string | undefined; answer(offer: string, answer: string): string | undefined };
  /** RFC 4028 towards the caller: a bridged call nobody refreshes is ended on both sides. */
  sessionTimer?: SessionTimerConfig;
}

export type CallEnd =
  | { outcome: 'connected'; durationMs: number; endedBy: 'caller' | 'callee' | 'system' }
  | { outcome: 'failed'; status: number; reason: string }
  | { outcome: 'cancelled' };

/**
 * A callee's 200 to an INVITE without SDP (delayed offer, RFC 3264 5): its offer, not yet
 * ACKed. srf's 3PCC result: `ack(answer)` completes the dialog, `destroy()` ACKs and hangs up.
 */
interface PendingOffer {
  sdp: string;
  ack(answer: string): Promise<Srf.Dialog>;
  destroy(): Promise<void>;
}

type Answered = Srf.Dialog | PendingOffer;

function isPending(a: Answered): a is PendingOffer {
  return typeof (a as PendingOffer).ack === 'function' && typeof (a as PendingOffer).sdp === 'string';
}

interface Leg {
  target: CallTarget;
  request: Srf.SrfRequest | undefined;
  done: boolean;
  cancelRequested: boolean;
  provisional: boolean;
}

class AttemptTimeout extends Error {
  constructor(uri: string) {
    super(`no answer from ${uri}`);
  }
}

/** srf's typings say void where it returns a promise; swallow a rejection either way. */
function quietly(result: unknown): void {
  if (result && typeof (result as Promise<unknown>).catch === 'function') (result as Promise<unknown>).catch(() => {});
}

function statusOf(err: unknown): number {
  const s = (err as { status?: number }).status;
  return typeof s === 'number' ? s : 500;
}

/**
 * One B2BUA call (RFC 7092 signalling-only B2BUA): the caller's INVITE sent to the targets
 * (all at once or one after another, see DialStrategy), the first answer connected, the others
 * cancelled, and each side's hang-up,
 * re-INVITE and INFO passed to the other. The session owns both dialogs; ending it ends both.
 */
export class CallSession {
  private legs: Leg[] = [];
  private cancelled = false;
  private answered = false;
  private provisionalSent = false;
  private ringTimer: NodeJS.Timeout | undefined;
  private failures: Array<{ status: number; reason: string }> = [];
  /** The SDP offer of the call: the caller's, or with a delayed offer the callee's. */
  offer: string | undefined;

  constructor(private readonly o: CallSessionOptions) {
    this.offer = String(o.req.body ?? '').trim() ? String(o.req.body) : undefined;
  }

  run(): Promise<CallEnd> {
    const { req } = this.o;
    return new Promise<CallEnd>((resolve) => {
      req.on('cancel', () => {
        this.cancelled = true;
        this.cancelAll();
        resolve({ outcome: 'cancelled' });
      });
      this.ringTimer = setTimeout(() => {
        if (this.answered || this.cancelled) return;
        this.failures.push({ status: 480, reason: 'no answer' });
        this.cancelAll();
      }, this.o.ringTimeoutMs);
      const strategy = this.o.strategy ?? { kind: 'parallel' };
      if (strategy.kind === 'serial') void this.runSerial(strategy, resolve);
      else this.runParallel(resolve);
    });
  }

  private newLeg(target: CallTarget): Leg {
    const leg: Leg = { target, request: undefined, done: false, cancelRequested: false, provisional: false };
    this.legs.push(leg);
    return leg;
  }

  private answer(uac: Answered, resolve: (end: CallEnd) => void): void {
    (isPending(uac) ? this.connectLateOffer(uac) : this.connect(uac)).then(resolve, (err) => {
      this.o.log.warn({ err: (err as Error).message }, 'connecting the caller failed');
      resolve({ outcome: 'failed', status: 500, reason: 'caller leg failed' });
    });
  }

  private runParallel(resolve: (end: CallEnd) => void): void {
    let pending = this.o.targets.length;
    for (const target of this.o.targets) {
      const leg = this.newLeg(target);
      this.dial(leg).then(
        (uac) => {
          leg.done = true;
          if (uac) this.answer(uac, resolve);
        },
        (err) => {
          leg.done = true;
          if (!leg.cancelRequested) this.failures.push({ status: statusOf(err), reason: (err as Error).message });
          if (--pending === 0 && !this.answered && !this.cancelled) resolve(this.fail());
        },
      );
    }
  }

  private async runSerial(strategy: Extract<DialStrategy, { kind: 'serial' }>, resolve: (end: CallEnd) => void): Promise<void> {
    for (const target of this.o.targets) {
      if (this.cancelled || this.answered) return;
      const leg = this.newLeg(target);
      // A target that does not even ring in time is treated as down: cancel it and try the next
      // one at once. Without a provisional the CANCEL waits (RFC 3261 9.1) and the INVITE ends
      // with Timer B in the background; a late 2xx from it is hung up by dial().
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => {
        timer = setTimeout(() => {
          if (leg.provisional || leg.done) return;
          this.cancelLeg(leg);
          r('timeout');
        }, strategy.attemptTimeoutMs);
      });
      const attempt = this.dial(leg);
      attempt.catch(() => {}); // its outcome after a timeout is of no interest
      try {
        const outcome = await Promise.race([attempt, timeout]);
        if (outcome === 'timeout') throw new AttemptTimeout(target.uri);
        leg.done = true;
        if (outcome) this.answer(outcome, resolve);
        return;
      } catch (err) {
        leg.done = true;
        if (this.cancelled) return;
        const status = err instanceof AttemptTimeout ? 408 : statusOf(err);
        this.failures.push({ status, reason: (err as Error).message });
        this.o.log.info({ target: target.uri, status }, 'call attempt failed');
        if (!strategy.failoverOn(status) || this.ringTimedOut()) {
          resolve(this.fail());
          return;
        }
      } finally {
        clearTimeout(timer);
      }
    }
    if (!this.cancelled && !this.answered) resolve(this.fail(strategy.exhausted));
  }

  private ringTimedOut(): boolean {
    return this.failures.some((f) => f.reason === 'no answer' && f.status === 480);
  }

  /** The caller's INVITE had no SDP: the callee's 200 will carry the offer (RFC 3264 5). */
  private get lateOffer(): boolean {
    return !String(this.o.req.body ?? '').trim();
  }

  private async dial(leg: Leg): Promise<Answered | undefined> {
    const { srf, req } = this.o;
    // A delayed offer is passed on as one: the callee offers in its 200, the caller answers in
    // its ACK, and only then is the callee ACKed (srf's 3PCC mode, noAck).
    const media = this.lateOffer ? { noAck: true } : { localSdp: req.body };
    const uac: Answered = await srf.createUAC(
      leg.target.uri,
      { ...media, headers: this.o.headers, proxy: leg.target.proxy, auth: leg.target.auth } as Srf.CreateUACOptions,
      {
        // srf calls it node-style: (err, request as sent).
        cbRequest: ((err: unknown, sent: Srf.SrfRequest) => {
          if (err || !sent) return;
          leg.request = sent;
          if (leg.cancelRequested) this.cancelLeg(leg);
        }) as unknown as (req: Srf.SrfRequest) => void,
        cbProvisional: (prov: Srf.SrfResponse) => {
          leg.provisional = true;
          if (this.provisionalSent || this.answered || this.cancelled) return;
          if (prov.status === 180 || prov.status === 183) {
            this.provisionalSent = true;
            this.o.res.send(180);
          }
        },
      },
    );
    if (this.answered || this.cancelled) {
      // Another fork won, or the caller gave up while this one was answering: hang it up.
      quietly(uac.destroy());
      return undefined;
    }
    this.answered = true;
    if (this.ringTimer) clearTimeout(this.ringTimer);
    for (const other of this.legs) if (other !== leg) this.cancelLeg(other);
    return uac;
  }

  private async connect(uac: Srf.Dialog): Promise<CallEnd> {
    const { srf, req, res } = this.o;
    if (this.lateOffer) {
      // The callee answered an offerless INVITE without an offer of its own (RFC 3264 5 says
      // it must offer): there is no media to connect.
      const reason = "the callee's 200 carried no SDP offer";
      quietly(uac.destroy({ headers: { Reason: `SIP;cause=488;text="${reason}"` } }));
      if (!res.finalResponseSent) res.send(488, { headers: { Warning: `399 knude "${reason}"` } });
      return { outcome: 'failed', status: 488, reason };
    }
    const refused = this.o.security?.answer(String(req.body ?? ''), String(uac.remote.sdp ?? ''));
    if (refused) {
      // The callee answered without the encryption the policy demands: neither side gets a call.
      this.o.log.info({ callId: req.get('Call-ID'), refused }, "callee's answer refused by the SRTP policy");
      quietly(uac.destroy({ headers: { Reason: 'SIP;cause=488;text="media must be encrypted"' } }));
      if (!res.finalResponseSent) res.send(488, { headers: { Warning: refused } });
      return { outcome: 'failed', status: 488, reason: refused };
    }
    const timer = this.sessionTimer();
    const uas = await srf.createUAS(req, res, { localSdp: uac.remote.sdp, ...(timer.timer ? { headers: timer.timer.headers() } : {}) });
    return this.bridge(uas, uac, timer);
  }

  /**
   * Delayed offer: the callee's offer (checked by the policy) goes to the caller in our 200,
   * the caller's answer (checked against it) to the callee in its ACK. A refusal on either
   * side ends both legs: the caller with 488 while it has no final response, with BYE after.
   */
  private async connectLateOffer(pending: PendingOffer): Promise<CallEnd> {
    const { srf, req, res, log } = this.o;
    const callId = req.get('Call-ID');
    this.offer = pending.sdp;
    const refusedOffer = this.o.security?.offer(pending.sdp);
    if (refusedOffer) {
      log.info({ callId, refused: refusedOffer }, "callee's offer refused by the SRTP policy");
      quietly(pending.destroy());
      if (!res.finalResponseSent) res.send(488, { headers: { Warning: refusedOffer } });
      return { outcome: 'failed', status: 488, reason: refusedOffer };
    }
    const timer = this.sessionTimer();
    let uas: Srf.Dialog;
    try {
      uas = await srf.createUAS(req, res, { localSdp: pending.sdp, ...(timer.timer ? { headers: timer.timer.headers() } : {}) });
    } catch (err) {
      quietly(pending.destroy());
      throw err;
    }
    const ack = await nextAck(uas);
    const answer = String(ack?.body ?? '');
    const refused = !ack
      ? 'the caller never acknowledged the answer'
      : !answer.trim()
        ? 'the caller acknowledged an offer without an SDP answer'
        : this.o.security?.answer(pending.sdp, answer);
    if (refused) {
      log.info({ callId, refused }, "caller's answer to a delayed offer refused");
      const reason = { headers: { Reason: `SIP;cause=488;text="${refused.replace(/"/g, "'")}"` } };
      quietly(pending.destroy());
      quietly(uas.destroy(reason));
      timer.timer?.stop();
      return { outcome: 'failed', status: 488, reason: refused };
    }
    const uac = await pending.ack(answer);
    return this.bridge(uas, uac, timer);
  }

  /** RFC 4028 towards the caller; `expire` is set once the call is bridged. */
  private sessionTimer(): { timer: SessionTimer | undefined; expire: () => void } {
    const holder = { timer: undefined as SessionTimer | undefined, expire: () => {} };
    if (this.o.sessionTimer) holder.timer = new SessionTimer(this.o.req, this.o.sessionTimer, () => holder.expire());
    return holder;
  }

  /** Both dialogs up: each side's hang-up, re-INVITE, UPDATE and INFO passed to the other. */
  private bridge(uas: Srf.Dialog, uac: Srf.Dialog, holder: { timer: SessionTimer | undefined; expire: () => void }): Promise<CallEnd> {
    const timer = holder.timer;
    const started = Date.now();
    return new Promise<CallEnd>((resolve) => {
      let ended = false;
      const end = (endedBy: 'caller' | 'callee' | 'system') => {
        if (ended) return;
        ended = true;
        timer?.stop();
        resolve({ outcome: 'connected', durationMs: Date.now() - started, endedBy });
      };
      holder.expire = () => {
        const reason = { headers: { Reason: 'SIP;cause=408;text="session timer expired"' } };
        quietly(uas.destroy(reason));
        quietly(uac.destroy(reason));
        end('system');
      };
      timer?.refreshed();
      // A refresh by UPDATE is answered here (with the session as it is); re-INVITEs below.
      uas.on('update', (ureq: Srf.SrfRequest, ures: Srf.SrfResponse) => {
        timer?.refreshed();
        ures.send(200, { headers: timer?.headers() ?? {}, ...(ureq.body ? { body: uas.local.sdp } : {}) });
      });
      uas.on('destroy', () => {
        quietly(uac.destroy());
        end('caller');
      });
      uac.on('destroy', () => {
        quietly(uas.destroy());
        end('callee');
      });
      // Re-INVITE (hold/resume, new media) from either side is offered to the other.
      const hangUpBoth = (why: string) => {
        const reason = { headers: { Reason: `SIP;cause=488;text="${why.replace(/"/g, "'")}"` } };
        quietly(uas.destroy(reason));
        quietly(uac.destroy(reason));
        end('system');
      };
      /**
       * A re-INVITE without SDP asks for a fresh offer (RFC 3264 5; call managers send them to
       * refresh or resume a call). It is passed on as one: the other side's offer goes back in
       * our 200 and the answer from the ACK on in the other leg's ACK, both held to the policy.
       * An offer refused is a 488 and leaves the session as it was; an answer refused ends
       * the call, since that leg has already offered.
       */
      const relayOfferless = (from: Srf.Dialog, to: Srf.Dialog, mres: Srf.SrfResponse) => {
        const previous = to.local.sdp;
        (to.modify({ noAck: true }) as unknown as Promise<{ sdp?: string; ack(sdp: string): void }>).then(
          (pending) => {
            const offer = String(pending.sdp ?? '');
            const restore = () => {
              pending.ack(previous);
              to.local.sdp = previous;
            };
            const refusedOffer = !offer.trim() ? 'the 200 to a re-INVITE without SDP carried no offer' : this.o.security?.offer(offer);
            if (refusedOffer) {
              restore();
              return void mres.send(488, { headers: { Warning: `399 knude "${refusedOffer.replace(/^399 knude "|"$/g, '').replace(/"/g, "'")}"` } });
            }
            void nextAck(from).then((ack) => {
              if (!ack) return void hangUpBoth('the re-INVITE was never acknowledged');
              const answer = String(ack.body ?? '');
              const refused = !answer.trim() ? 'the ACK carried no SDP answer to the offer' : this.o.security?.answer(offer, answer);
              if (refused) {
                restore();
                return void hangUpBoth(refused);
              }
              pending.ack(answer);
              to.local.sdp = answer;
            });
            mres.send(200, { body: offer });
          },
          (err: unknown) => {
            to.local.sdp = previous;
            mres.send(statusOf(err) >= 400 ? statusOf(err) : 488);
          },
        );
      };
      const relayModify = (from: Srf.Dialog, to: Srf.Dialog) =>
        from.on('modify', (mreq: Srf.SrfRequest, mres: Srf.SrfResponse) => {
          if (from === uas) timer?.refreshed();
          if (!String(mreq.body ?? '').trim()) return relayOfferless(from, to, mres);
          const refusedOffer = this.o.security?.offer(String(mreq.body));
          // RFC 3261 14.2: a refused re-INVITE leaves the session as it was.
          if (refusedOffer) return void mres.send(488, { headers: { Warning: refusedOffer } });
          to.modify(mreq.body).then(
            () => mres.send(200, { body: to.remote.sdp }),
            (err: unknown) => mres.send(statusOf(err) >= 400 ? statusOf(err) : 488),
          );
        });
      relayModify(uas, uac);
      relayModify(uac, uas);
      const relayInfo = (from: Srf.Dialog, to: Srf.Dialog) =>
        from.on('info', (ireq: Srf.SrfRequest, ires: Srf.SrfResponse) => {
          const headers: Record<string, string> = {};
          if (ireq.has('Content-Type')) headers['Content-Type'] = ireq.get('Content-Type');
          (to.request({ method: 'INFO', headers, body: ireq.body } as unknown as Srf.SrfRequest) as Promise<Srf.SrfResponse>).then(
            (r: Srf.SrfResponse) => ires.send(r.status),
            () => ires.send(500),
          );
        });
      relayInfo(uas, uac);
      relayInfo(uac, uas);
    });
  }

  private cancelLeg(leg: Leg): void {
    leg.cancelRequested = true;
    if (leg.done || !leg.request) return;
    try {
      leg.request.cancel(() => {});
    } catch {
      /* already final */
    }
  }

  private cancelAll(): void {
    if (this.ringTimer) clearTimeout(this.ringTimer);
    for (const leg of this.legs) this.cancelLeg(leg);
  }

  /** Every fork failed: answer the caller with the most telling failure (RFC 3261 16.7.6 spirit). */
  private fail(exhausted?: { status: number; reason: string }): CallEnd {
    const f = this.failures;
    const pick =
      exhausted ??
      f.find((x) => x.status >= 600) ??
      f.find((x) => x.status === 486) ??
      f.find((x) => x.status === 480) ??
      f.find((x) => x.status >= 400 && x.status < 500 && x.status !== 408 && x.status !== 487) ??
      f.find((x) => x.status === 408) ??
      { status: 480, reason: 'no contact answered' };
    const status = exhausted ? exhausted.status : pick.status === 487 ? 480 : pick.status >= 500 && pick.status < 600 ? 480 : pick.status;
    if (!this.o.res.finalResponseSent) {
      this.o.res.send(status, { headers: { Reason: `SIP;cause=${pick.status};text="${pick.reason.replace(/"/g, "'")}"` } });
    }
    return { outcome: 'failed', status, reason: pick.reason };
  }
}
