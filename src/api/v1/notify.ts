/**
 * Invitations leave through the outbox: every SMS and e-mail is first a row in api_outbox
 * (what, to whom, status, attempts), so the booking shows its invitation status and nothing
 * is lost when a gateway is down. A channel with no sender configured keeps its messages in
 * the outbox and the log ('stored'): the embedded default, and what tests read. A channel
 * with a sender (the HTTP SMS gateway) is delivered in the background.
 */
import type { Logger } from 'pino';
import type { Db } from '../../store/database.js';
import type { SmsGatewayConfig } from './config.js';

export type Channel = 'sms' | 'email';
export type OutboxStatus = 'queued' | 'sent' | 'stored' | 'failed';

export interface OutboundMessage {
  org: string;
  bookingId?: string;
  channel: Channel;
  recipient: string;
  subject?: string;
  body: string;
}

export interface OutboxEntry extends OutboundMessage {
  id: number;
  status: OutboxStatus;
  attempts: number;
  lastError?: string;
  createdAt: string;
  updatedAt: string;
}

export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    message: string,
    readonly attempts: number,
  ) {
    super(message);
  }
}

/** Delivers one message, retrying as it sees fit; resolves with the attempts it took. */
export interface MessageSender {
  deliver(msg: OutboxEntry): Promise<{ attempts: number }>;
}

interface Row {
  id: number;
  org: string;
  booking_id: string | null;
  channel: Channel;
  recipient: string;
  subject: string | null;
  body: string;
  status: OutboxStatus;
  attempts: number;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

const toEntry = (r: Row): OutboxEntry => ({
  id: r.id,
  org: r.org,
  ...(r.booking_id ? { bookingId: r.booking_id } : {}),
  channel: r.channel,
  recipient: r.recipient,
  ...(r.subject !== null ? { subject: r.subject } : {}),
  body: r.body,
  status: r.status,
  attempts: r.attempts,
  ...(r.last_error ? { lastError: r.last_error } : {}),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class Outbox {
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly senders: Partial<Record<Channel, MessageSender>> = {},
  ) {}

  /** Writes the messages (one transaction) and starts delivering those with a sender. */
  enqueue(messages: readonly OutboundMessage[]): OutboxEntry[] {
    const now = new Date().toISOString();
    const insert = this.db.prepare(
      'INSERT INTO api_outbox (org, booking_id, channel, recipient, subject, body, status, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)',
    );
    const entries = this.db.transaction(() =>
      messages.map((m) => {
        const status: OutboxStatus = this.senders[m.channel] ? 'queued' : 'stored';
        const id = Number(insert.run(m.org, m.bookingId ?? null, m.channel, m.recipient, m.subject ?? null, m.body, status, now, now).lastInsertRowid);
        return this.get(id) as OutboxEntry;
      }),
    )();
    for (const e of entries) {
      const sender = this.senders[e.channel];
      if (!sender) {
        this.log.info({ outbox: e.id, channel: e.channel, booking: e.bookingId }, 'invitation stored in the outbox (no sender configured for this channel)');
        continue;
      }
      const p = this.deliver(e, sender).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
    return entries;
  }

  private async deliver(e: OutboxEntry, sender: MessageSender): Promise<void> {
    const update = this.db.prepare('UPDATE api_outbox SET status = ?, attempts = ?, last_error = ?, updated_at = ? WHERE id = ?');
    try {
      const { attempts } = await sender.deliver(e);
      update.run('sent', attempts, null, new Date().toISOString(), e.id);
      this.log.info({ outbox: e.id, channel: e.channel, attempts }, 'invitation sent');
    } catch (err) {
      const attempts = err instanceof DeliveryError ? err.attempts : 1;
      update.run('failed', attempts, (err as Error).message.slice(0, 300), new Date().toISOString(), e.id);
      this.log.warn({ outbox: e.id, channel: e.channel, attempts, err: (err as Error).message }, 'invitation could not be sent');
    }
  }

  /** Resolves when every delivery started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  get(id: number): OutboxEntry | undefined {
    const r = this.db.prepare('SELECT * FROM api_outbox WHERE id = ?').get(id) as Row | undefined;
    return r && toEntry(r);
  }

  list(filter: { org?: string; bookingId?: string; limit?: number } = {}): OutboxEntry[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.org !== undefined) (where.push('org = ?'), params.push(filter.org));
    if (filter.bookingId !== undefined) (where.push('booking_id = ?'), params.push(filter.bookingId));
    const sql = `SELECT * FROM api_outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params, Math.min(filter.limit ?? 200, 1000)) as Row[]).map(toEntry);
  }
}

/**
 * SMS through an HTTP gateway: `POST url` with JSON `{to, text, reference}`. A 2xx is sent;
 * a 4xx other than 408/429 is the gateway refusing this message (no retry); network errors,
 * timeouts, 408, 429 and 5xx are retried with exponential backoff and jitter.
 */
export class HttpSmsGateway implements MessageSender {
  constructor(
    private readonly config: SmsGatewayConfig,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  async deliver(msg: OutboxEntry): Promise<{ attempts: number }> {
    let lastError = '';
    for (let attempt = 1; attempt <= this.config.maxAttempts; attempt++) {
      if (attempt > 1) {
        const base = Math.min(30_000, this.config.backoffMs * 2 ** (attempt - 2));
        await this.sleep(base / 2 + Math.random() * (base / 2));
      }
      let status: number;
      try {
        const res = await fetch(this.config.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(this.config.token ? { authorization: `Bearer ${this.config.token}` } : {}) },
          body: JSON.stringify({ to: msg.recipient, text: msg.body, reference: `knude-outbox-${msg.id}` }),
          signal: AbortSignal.timeout(this.config.timeoutMs),
        });
        status = res.status;
        await res.arrayBuffer().catch(() => undefined);
      } catch (err) {
        lastError = `gateway unreachable: ${(err as Error).message}`;
        continue;
      }
      if (status >= 200 && status < 300) return { attempts: attempt };
      lastError = `gateway answered ${status}`;
      if (status < 500 && status !== 408 && status !== 429) throw new DeliveryError(`${lastError} (not retried)`, attempt);
    }
    throw new DeliveryError(`${lastError} after ${this.config.maxAttempts} attempts`, this.config.maxAttempts);
  }
}
