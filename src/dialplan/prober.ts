/**
 * SIP OPTIONS keep-alives to every neighbour-zone target and internet gateway target, feeding
 * their up/down state into the DialPlanRouter (which then leaves down targets out of its
 * decisions), the way Cisco Expressway and Pexip operators know it from zone/trunk health.
 *
 * Reading of an answer, as SIP keep-alives are read in practice:
 *  - any final response (2xx–6xx) proves the peer is alive, even 404/405/401/403: a trunk that
 *    rejects OPTIONS still answers, and would answer an INVITE;
 *  - except 408 (no answer in time) and 503 (overloaded, or a transport error as RFC 3261
 *    §8.1.3.1 reports it): those are failures, as is a sender that throws.
 *
 * Hysteresis: a target goes down after `failuresToDown` consecutive failures and comes back
 * after `successesToUp` consecutive successes. A never-probed target counts as up for the
 * router, so the first success reports it up at once and it takes the full `failuresToDown`
 * failures to take it down. Every transition is logged once, at info.
 *
 * The plan is read from the router every round (`router.zones()`), so zones and targets added
 * or removed between rounds are picked up; a target the router no longer knows (also in the
 * middle of a round: `setTargetState` says false) is forgotten.
 */
import { randomBytes } from 'node:crypto';
import type Srf from 'drachtio-srf';
import { targetKey } from './plan-index.js';
import type { DialPlanRouter, TargetState, ZoneHealth } from './router.js';
import type { TargetTransport } from './types.js';

export interface ProbeTarget {
  host: string;
  port: number;
  transport: TargetTransport;
}

/**
 * Sends one OPTIONS and resolves the final status code, 408 when none arrived within
 * `timeoutMs`, 503 on a transport error. Should never reject (the prober copes if it does).
 */
export type SendOptions = (target: ProbeTarget, timeoutMs: number) => Promise<number>;

/** The few logger methods used; a pino Logger fits. */
export interface ProberLog {
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface ZoneProberOptions {
  router: Pick<DialPlanRouter, 'zones' | 'setTargetState'>;
  sendOptions: SendOptions;
  /** Time between the starts of two rounds. Default 30 s. */
  intervalMs?: number;
  /** Time a target has to answer one OPTIONS. Default 5 s. */
  timeoutMs?: number;
  /** Consecutive failures that take a target down. Default 2. */
  failuresToDown?: number;
  /** Consecutive successes that bring a down target back. Default 1. */
  successesToUp?: number;
  /** Most OPTIONS in flight at once. Default 16. */
  concurrency?: number;
  log: ProberLog;
}

export interface TargetProbeStatus extends ProbeTarget {
  zone: string;
  org: string | null;
  key: string;
  /** 'unknown' until the first probe answered or failed enough to decide. */
  state: TargetState;
  /** When `state` last changed (ISO), null before the first transition. */
  since: string | null;
  /** Why the last transition happened. */
  reason: string | null;
  /** Status of the last probe (408 on timeout, 503 on transport error), null before any. */
  lastStatus: number | null;
  lastProbeAt: string | null;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  probes: number;
  failures: number;
}

export interface ProberStatus {
  running: boolean;
  intervalMs: number;
  timeoutMs: number;
  failuresToDown: number;
  successesToUp: number;
  concurrency: number;
  /** Rounds completed. */
  rounds: number;
  roundInProgress: boolean;
  lastRoundAt: string | null;
  lastRoundMs: number | null;
  targets: TargetProbeStatus[];
}

interface Tracked {
  zone: string;
  org: string | null;
  key: string;
  target: ProbeTarget;
  state: TargetState;
  since: string | null;
  reason: string | null;
  lastStatus: number | null;
  lastProbeAt: string | null;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  probes: number;
  failures: number;
}

/** How long past its own timeout a sender may take before the prober gives up on it. */
const SENDER_GRACE_MS = 1_000;

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`ZoneProber: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** How one probe outcome is read: alive or not, and in words. */
export function classifyProbe(status: number, timeoutMs: number): { ok: boolean; reason: string } {
  if (!Number.isInteger(status) || status < 200 || status > 699) return { ok: false, reason: `invalid final status ${status}` };
  if (status === 408) return { ok: false, reason: `no final response to OPTIONS within ${timeoutMs} ms (408)` };
  if (status === 503) return { ok: false, reason: 'OPTIONS answered 503 (service unavailable or transport error)' };
  if (status < 300) return { ok: true, reason: `OPTIONS answered ${status}` };
  return { ok: true, reason: `OPTIONS answered ${status}, peer is alive` };
}

export class ZoneProber {
  private readonly router: ZoneProberOptions['router'];
  private readonly send: SendOptions;
  private readonly log: ProberLog;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly failuresToDown: number;
  readonly successesToUp: number;
  readonly concurrency: number;

  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private round: Promise<void> | undefined;
  /** Bumped by stop(): results of probes sent before are dropped. */
  private epoch = 0;
  private rounds = 0;
  private lastRoundAt: string | null = null;
  private lastRoundMs: number | null = null;

  constructor(opts: ZoneProberOptions) {
    this.router = opts.router;
    this.send = opts.sendOptions;
    this.log = opts.log;
    this.intervalMs = positiveInt('intervalMs', opts.intervalMs ?? 30_000);
    this.timeoutMs = positiveInt('timeoutMs', opts.timeoutMs ?? 5_000);
    this.failuresToDown = positiveInt('failuresToDown', opts.failuresToDown ?? 2);
    this.successesToUp = positiveInt('successesToUp', opts.successesToUp ?? 1);
    this.concurrency = positiveInt('concurrency', opts.concurrency ?? 16);
  }

  /** Probes at once, then every `intervalMs`. A round still running when the next is due is not doubled. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  /**
   * Stops probing: no timer is left, and answers to probes still in flight are ignored. The
   * router keeps the states last reported.
   */
  stop(): void {
    this.running = false;
    this.epoch++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get isRunning(): boolean {
    return this.running;
  }

  private tick(): void {
    this.timer = setTimeout(() => this.tick(), this.intervalMs);
    this.timer.unref?.();
    void this.probeNow();
  }

  /**
   * One round: every target of every zone (and the gateway), in parallel up to `concurrency`.
   * Resolves when the round is done; while one is running, calls join it. Never rejects.
   */
  probeNow(): Promise<void> {
    if (!this.round) {
      this.round = this.runRound().finally(() => {
        this.round = undefined;
      });
    }
    return this.round;
  }

  private async runRound(): Promise<void> {
    const epoch = this.epoch;
    const started = Date.now();
    const targets = this.syncWithPlan();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < targets.length) {
        const t = targets[next++]!;
        await this.probeOne(t, epoch);
      }
    };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < Math.min(this.concurrency, targets.length); i++) workers.push(worker());
    await Promise.all(workers);
    if (epoch !== this.epoch) return;
    this.rounds++;
    this.lastRoundAt = new Date().toISOString();
    this.lastRoundMs = Date.now() - started;
  }

  /** Reads the plan: adds new targets, forgets removed ones; returns this round's list. */
  private syncWithPlan(): Tracked[] {
    let zones: ZoneHealth[];
    try {
      zones = this.router.zones();
    } catch (err) {
      this.log.info({ err: String(err) }, 'OPTIONS prober could not read the dial plan; round skipped');
      return [];
    }
    const seen = new Set<string>();
    const list: Tracked[] = [];
    for (const z of zones) {
      for (const t of z.targets) {
        const key = t.key;
        const id = `${z.zone}\n${key}`;
        if (seen.has(id)) continue;
        seen.add(id);
        let tr = this.tracked.get(id);
        if (!tr) {
          tr = {
            zone: z.zone,
            org: z.org,
            key,
            target: { host: t.host, port: t.port, transport: t.transport },
            state: 'unknown',
            since: null,
            reason: null,
            lastStatus: null,
            lastProbeAt: null,
            consecutiveFailures: 0,
            consecutiveSuccesses: 0,
            probes: 0,
            failures: 0,
          };
          this.tracked.set(id, tr);
        }
        tr.org = z.org;
        list.push(tr);
      }
    }
    for (const [id, tr] of this.tracked) {
      if (!seen.has(id)) this.forget(id, tr, 'no longer in the dial plan');
    }
    return list;
  }

  private forget(id: string, tr: Tracked, why: string): void {
    if (this.tracked.get(id) !== tr) return;
    this.tracked.delete(id);
    this.log.debug({ zone: tr.zone, target: tr.key }, `OPTIONS prober forgets ${tr.zone} target ${tr.key}: ${why}`);
  }

  private async probeOne(tr: Tracked, epoch: number): Promise<void> {
    const { status, reason } = await this.sendGuarded(tr.target);
    const id = `${tr.zone}\n${tr.key}`;
    // Stopped meanwhile, or the plan dropped the target and a newer round forgot it.
    if (epoch !== this.epoch || this.tracked.get(id) !== tr) return;

    tr.probes++;
    tr.lastStatus = status;
    tr.lastProbeAt = new Date().toISOString();
    const verdict = reason ? { ok: false, reason } : classifyProbe(status, this.timeoutMs);
    let next: TargetState = tr.state;
    if (verdict.ok) {
      tr.consecutiveSuccesses++;
      tr.consecutiveFailures = 0;
      if (tr.state === 'unknown' || (tr.state === 'down' && tr.consecutiveSuccesses >= this.successesToUp)) next = 'up';
    } else {
      tr.failures++;
      tr.consecutiveFailures++;
      tr.consecutiveSuccesses = 0;
      if (tr.state !== 'down' && tr.consecutiveFailures >= this.failuresToDown) next = 'down';
    }

    if (next !== 'unknown') {
      // Reported on every probe, not only on transitions: idempotent in the router, and it
      // restores the state should the router have lost it (target removed and re-added).
      let known: boolean;
      try {
        known = this.router.setTargetState(tr.zone, tr.key, next);
      } catch (err) {
        this.log.info({ zone: tr.zone, target: tr.key, err: String(err) }, 'OPTIONS prober could not report to the router');
        return;
      }
      if (!known) {
        this.forget(id, tr, 'the router no longer knows it');
        return;
      }
    }

    if (next !== tr.state) {
      const from = tr.state;
      const detail =
        verdict.ok
          ? verdict.reason
          : `${verdict.reason}; ${tr.consecutiveFailures} consecutive failure${tr.consecutiveFailures === 1 ? '' : 's'}`;
      tr.state = next;
      tr.since = tr.lastProbeAt;
      tr.reason = detail;
      this.log.info(
        { zone: tr.zone, org: tr.org, target: tr.key, from, to: next, status, reason: detail },
        `zone ${tr.zone} target ${tr.key} is ${next}${from === 'unknown' ? '' : ` (was ${from})`}: ${detail}`,
      );
    }
  }

  /** Calls the sender, never longer than its timeout plus a grace, never throwing. */
  private sendGuarded(target: ProbeTarget): Promise<{ status: number; reason?: string }> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (v: { status: number; reason?: string }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        resolve(v);
      };
      const guard = setTimeout(
        () => done({ status: 408, reason: `OPTIONS sender gave no result within ${this.timeoutMs + SENDER_GRACE_MS} ms` }),
        this.timeoutMs + SENDER_GRACE_MS,
      );
      guard.unref?.();
      let p: Promise<number>;
      try {
        p = Promise.resolve(this.send(target, this.timeoutMs));
      } catch (err) {
        done({ status: 503, reason: `transport error: ${errorText(err)}` });
        return;
      }
      p.then(
        (status) => done({ status }),
        (err: unknown) => done({ status: 503, reason: `transport error: ${errorText(err)}` }),
      );
    });
  }

  /** What the prober knows about every target, for the API, CLI and tests. */
  status(): ProberStatus {
    return {
      running: this.running,
      intervalMs: this.intervalMs,
      timeoutMs: this.timeoutMs,
      failuresToDown: this.failuresToDown,
      successesToUp: this.successesToUp,
      concurrency: this.concurrency,
      rounds: this.rounds,
      roundInProgress: this.round !== undefined,
      lastRoundAt: this.lastRoundAt,
      lastRoundMs: this.lastRoundMs,
      targets: [...this.tracked.values()].map((t) => ({
        zone: t.zone,
        org: t.org,
        key: t.key,
        host: t.target.host,
        port: t.target.port,
        transport: t.target.transport,
        state: t.state,
        since: t.since,
        reason: t.reason,
        lastStatus: t.lastStatus,
        lastProbeAt: t.lastProbeAt,
        consecutiveFailures: t.consecutiveFailures,
        consecutiveSuccesses: t.consecutiveSuccesses,
        probes: t.probes,
        failures: t.failures,
      })),
    };
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---- drachtio-srf sender ------------------------------------------------------------------

/** The part of drachtio-srf used here (its typings of `request` do not match the runtime). */
export interface SrfOptionsClient {
  request(
    uri: string,
    opts: { method: 'OPTIONS'; headers: Record<string, string>; proxy?: string },
    callback: (err: unknown, req?: { on(event: 'response', cb: (res?: { status?: number; statusCode?: number }) => void): void }) => void,
  ): unknown;
}

export interface SrfOptionsSenderOptions {
  /** Our identity in From, e.g. 'sip:knude@video.example.org' (angle brackets optional). */
  fromUri: string;
  userAgent: string;
  /** Where transport errors are told (debug). */
  log?: Pick<ProberLog, 'debug'>;
}

function uriHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The Request-URI an OPTIONS to `t` is sent to: `sip:host:port;transport=x`. */
export function optionsRequestUri(t: ProbeTarget): string {
  return `sip:${uriHost(t.host)}:${t.port};transport=${t.transport}`;
}

/**
 * A SendOptions on drachtio-srf: `srf.request(uri, { method: 'OPTIONS', headers })`, the first
 * final response's status, 408 if none within the timeout (a late answer is ignored), 503 on
 * any error sending. Never rejects.
 */
export function srfOptionsSender(srf: Srf | SrfOptionsClient, opts: SrfOptionsSenderOptions): SendOptions {
  const client = srf as unknown as SrfOptionsClient;
  const from = opts.fromUri.includes('<') ? opts.fromUri : `<${opts.fromUri}>`;
  return (target, timeoutMs) =>
    new Promise<number>((resolve) => {
      let settled = false;
      const finish = (status: number): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(status);
      };
      const failed = (err: unknown): void => {
        opts.log?.debug({ target: targetKey(target), err: errorText(err) }, `OPTIONS to ${targetKey(target)} could not be sent`);
        finish(503);
      };
      const timer = setTimeout(() => finish(408), timeoutMs);
      const headers: Record<string, string> = {
        From: from.includes(';tag=') ? from : `${from};tag=${randomBytes(6).toString('hex')}`,
        To: `<sip:${uriHost(target.host)}:${target.port}>`,
        'Max-Forwards': '70',
        'User-Agent': opts.userAgent,
      };
      try {
        client.request(optionsRequestUri(target), { method: 'OPTIONS', headers }, (err, req) => {
          if (err || !req) return failed(err ?? new Error('no request'));
          try {
            req.on('response', (res) => {
              const status = Number(res?.status ?? res?.statusCode);
              if (Number.isInteger(status) && status >= 200) finish(status);
            });
          } catch (e) {
            failed(e);
          }
        });
      } catch (err) {
        failed(err);
      }
    });
}
