/**
 * Bookings of ad hoc meetings: each creates a one-time room (with fresh host and guest PINs
 * and a join alias) and invitations by SMS and e-mail from the organisation's template.
 * Templates, bookings and their participants are written only here. Participants' names,
 * phone numbers and e-mail addresses are personal data: `applyRetention` pseudonymises them
 * (and the outbox copies) once the meeting is older than the retention period.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { DialPlanStore } from '../../dialplan/index.js';
import type { RoomStore } from '../../rooms/store.js';
import { HashedPin } from '../../rooms/pins.js';
import type { Db } from '../../store/database.js';
import { ApiProblem, conflict, notFound } from './errors.js';
import type { OutboundMessage, Outbox } from './notify.js';

export const PLACEHOLDERS = ['name', 'title', 'room', 'start', 'end', 'pin', 'link', 'org'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

export interface BookingTemplate {
  id: string;
  org: string;
  name: string;
  smsText: string;
  emailSubject: string;
  emailText: string;
  isDefault: boolean;
  createdAt: string;
}

export type TemplateInput = Pick<BookingTemplate, 'name' | 'smsText' | 'emailSubject' | 'emailText'> & { isDefault?: boolean };

/** Used when an organisation has no template of its own. */
export const BUILT_IN_TEMPLATE: TemplateInput = {
  name: 'built-in',
  smsText: 'Hi {{name}}, you are invited to "{{title}}" {{start}}. Join: {{link}} PIN {{pin}}',
  emailSubject: 'Invitation: {{title}} {{start}}',
  emailText: 'Hi {{name}},\n\nyou are invited to the video meeting "{{title}}" from {{start}} to {{end}}.\n\nJoin in your browser: {{link}}\nor call {{room}} from a video endpoint.\nPIN: {{pin}}\n\n{{org}}',
};

export interface Participant {
  name: string;
  phone?: string;
  email?: string;
  role: 'host' | 'guest';
}

export interface Booking {
  id: string;
  org: string;
  roomId: string;
  title: string;
  start: string;
  end: string;
  joinAlias: string;
  joinLink: string;
  templateId?: string;
  status: 'booked' | 'cancelled';
  participants: Participant[];
  createdBy: string;
  createdAt: string;
}

export interface BookingInput {
  org: string;
  title: string;
  start: string;
  end: string;
  participants: Array<{ name: string; phone?: string; email?: string; role?: 'host' | 'guest' }>;
  templateId?: string;
  maxParticipants?: number;
  createdBy: string;
}

interface BookingRow {
  id: string;
  org: string;
  room_id: string;
  title: string;
  start_at: string;
  end_at: string;
  join_alias: string;
  template_id: string | null;
  status: 'booked' | 'cancelled';
  created_by: string;
  created_at: string;
}

interface TemplateRow {
  id: string;
  org: string;
  name: string;
  sms_text: string;
  email_subject: string;
  email_text: string;
  is_default: number;
  created_at: string;
}

const toTemplate = (r: TemplateRow): BookingTemplate => ({
  id: r.id,
  org: r.org,
  name: r.name,
  smsText: r.sms_text,
  emailSubject: r.email_subject,
  emailText: r.email_text,
  isDefault: r.is_default === 1,
  createdAt: r.created_at,
});

/** Replaces {{placeholder}}s; unknown ones were refused when the template was saved. */
export function renderTemplate(text: string, values: Record<Placeholder, string>): string {
  return text.replace(/\{\{\s*([a-z]+)\s*\}\}/g, (whole, key: string) => (key in values ? values[key as Placeholder] : whole));
}

function checkPlaceholders(text: string, field: string): void {
  for (const m of text.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    if (!(PLACEHOLDERS as readonly string[]).includes(m[1] ?? '')) {
      throw new ApiProblem(422, 'invalid', `${field} uses an unknown placeholder {{${(m[1] ?? '').slice(0, 30)}}} (known: ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')})`);
    }
  }
}

/** Six digits, never starting with 0 (some endpoints' keypads drop a leading zero). */
function newPin(): string {
  return String(randomInt(100_000, 1_000_000));
}

export interface BookingsDeps {
  db: Db;
  plan: DialPlanStore;
  rooms: RoomStore;
  outbox: Outbox;
  publicUrl: string;
  /** Time zone invitations show times in. */
  timeZone?: string;
  now?: () => Date;
}

export class Bookings {
  private readonly now: () => Date;
  private readonly formatTime: Intl.DateTimeFormat;

  constructor(private readonly deps: BookingsDeps) {
    this.now = deps.now ?? (() => new Date());
    this.formatTime = new Intl.DateTimeFormat('en-GB', { timeZone: deps.timeZone ?? 'Europe/Copenhagen', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
  }

  private get db(): Db {
    return this.deps.db;
  }

  // ---- templates -----------------------------------------------------------------------

  createTemplate(org: string, input: TemplateInput): BookingTemplate {
    checkPlaceholders(input.smsText, 'smsText');
    checkPlaceholders(input.emailSubject, 'emailSubject');
    checkPlaceholders(input.emailText, 'emailText');
    const row: TemplateRow = {
      id: randomUUID(),
      org,
      name: input.name,
      sms_text: input.smsText,
      email_subject: input.emailSubject,
      email_text: input.emailText,
      is_default: input.isDefault ? 1 : 0,
      created_at: this.now().toISOString(),
    };
    this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM api_templates WHERE org = ? AND name = ?').get(org, input.name)) throw conflict(`organisation ${org} already has a template named "${input.name}"`);
      if (row.is_default) this.db.prepare('UPDATE api_templates SET is_default = 0 WHERE org = ?').run(org);
      this.db.prepare('INSERT INTO api_templates (id, org, name, sms_text, email_subject, email_text, is_default, created_at) VALUES (@id, @org, @name, @sms_text, @email_subject, @email_text, @is_default, @created_at)').run(row);
    })();
    return toTemplate(row);
  }

  updateTemplate(id: string, patch: Partial<TemplateInput>): BookingTemplate {
    const cur = this.getTemplate(id);
    if (!cur) throw notFound(`no template ${id}`);
    const next = { ...cur, ...patch };
    checkPlaceholders(next.smsText, 'smsText');
    checkPlaceholders(next.emailSubject, 'emailSubject');
    checkPlaceholders(next.emailText, 'emailText');
    this.db.transaction(() => {
      if (next.name !== cur.name && this.db.prepare('SELECT 1 FROM api_templates WHERE org = ? AND name = ?').get(cur.org, next.name)) throw conflict(`organisation ${cur.org} already has a template named "${next.name}"`);
      if (next.isDefault) this.db.prepare('UPDATE api_templates SET is_default = 0 WHERE org = ?').run(cur.org);
      this.db
        .prepare('UPDATE api_templates SET name = ?, sms_text = ?, email_subject = ?, email_text = ?, is_default = ? WHERE id = ?')
        .run(next.name, next.smsText, next.emailSubject, next.emailText, next.isDefault ? 1 : 0, id);
    })();
    return this.getTemplate(id) as BookingTemplate;
  }

  getTemplate(id: string): BookingTemplate | undefined {
    const r = this.db.prepare('SELECT * FROM api_templates WHERE id = ?').get(id) as TemplateRow | undefined;
    return r && toTemplate(r);
  }

  listTemplates(org?: string): BookingTemplate[] {
    const rows = (org === undefined ? this.db.prepare('SELECT * FROM api_templates ORDER BY org, name').all() : this.db.prepare('SELECT * FROM api_templates WHERE org = ? ORDER BY name').all(org)) as TemplateRow[];
    return rows.map(toTemplate);
  }

  deleteTemplate(id: string): void {
    if (this.db.prepare('DELETE FROM api_templates WHERE id = ?').run(id).changes === 0) throw notFound(`no template ${id}`);
  }

  // ---- bookings ------------------------------------------------------------------------

  async create(input: BookingInput): Promise<{ booking: Booking; hostPin: string; guestPin: string }> {
    const start = Date.parse(input.start);
    const end = Date.parse(input.end);
    if (!(end > start)) throw new ApiProblem(422, 'invalid', 'a booking must end after it starts');
    if (end <= this.now().getTime()) throw new ApiProblem(422, 'invalid', 'the booking would already have ended');
    if (end - start > 24 * 3600_000) throw new ApiProblem(422, 'invalid', 'a booked meeting lasts at most 24 hours; use a permanent room for longer');
    let template: TemplateInput;
    if (input.templateId !== undefined) {
      const t = this.getTemplate(input.templateId);
      if (!t || t.org !== input.org) throw new ApiProblem(422, 'invalid', `organisation ${input.org} has no template ${input.templateId}`);
      template = t;
    } else {
      template = this.listTemplates(input.org).find((t) => t.isDefault) ?? BUILT_IN_TEMPLATE;
    }
    const hostPin = newPin();
    let guestPin = newPin();
    while (guestPin === hostPin) guestPin = newPin();
    // Unguessable: the join link is sent by SMS and must not be found by counting.
    const roomId = `m-${randomBytes(8).toString('hex')}`;
    const domain = this.deps.plan.listDomains(input.org)[0]?.domain;
    const joinAlias = domain ? `${roomId}@${domain}` : roomId;
    const participants: Participant[] = input.participants.map((p) => ({
      name: p.name,
      ...(p.phone ? { phone: p.phone } : {}),
      ...(p.email ? { email: p.email } : {}),
      role: p.role ?? 'guest',
    }));
    if (input.maxParticipants !== undefined && input.maxParticipants < participants.length) {
      throw new ApiProblem(422, 'invalid', `maxParticipants ${input.maxParticipants} is less than the ${participants.length} participants invited`);
    }
    const row: BookingRow = {
      id: randomUUID(),
      org: input.org,
      room_id: roomId,
      title: input.title,
      start_at: new Date(start).toISOString(),
      end_at: new Date(end).toISOString(),
      join_alias: joinAlias,
      template_id: input.templateId ?? null,
      status: 'booked',
      created_by: input.createdBy,
      created_at: this.now().toISOString(),
    };
    // Hashed on the thread pool before the transaction: this process also relays media.
    const [hostHash, guestHash] = await Promise.all([HashedPin.of(hostPin, 'host PIN'), HashedPin.of(guestPin, 'guest PIN')]);
    // Room, aliases, booking and participants commit together or not at all.
    this.deps.plan.batch(() => {
      this.deps.rooms.create({
        id: roomId,
        name: input.title,
        org: input.org,
        kind: 'one-time',
        validFrom: row.start_at,
        validUntil: row.end_at,
        hostPin: hostHash,
        guestPin: guestHash,
        ...(input.maxParticipants !== undefined ? { maxParticipants: input.maxParticipants } : {}),
        aliases: domain ? [joinAlias] : [],
      });
      this.db
        .prepare('INSERT INTO api_bookings (id, org, room_id, title, start_at, end_at, join_alias, template_id, status, created_by, created_at) VALUES (@id, @org, @room_id, @title, @start_at, @end_at, @join_alias, @template_id, @status, @created_by, @created_at)')
        .run(row);
      const insert = this.db.prepare('INSERT INTO api_booking_participants (booking_id, idx, name, phone, email, role) VALUES (?, ?, ?, ?, ?, ?)');
      participants.forEach((p, i) => insert.run(row.id, i, p.name, p.phone ?? null, p.email ?? null, p.role));
    });
    const booking = this.toBooking(row);
    const org = this.deps.plan.getOrg(input.org);
    const messages: OutboundMessage[] = [];
    for (const p of participants) {
      const values: Record<Placeholder, string> = {
        name: p.name,
        title: input.title,
        room: joinAlias,
        start: this.formatTime.format(start),
        end: this.formatTime.format(end),
        pin: p.role === 'host' ? hostPin : guestPin,
        link: booking.joinLink,
        org: org?.displayName ?? input.org,
      };
      if (p.phone) messages.push({ org: input.org, bookingId: row.id, channel: 'sms', recipient: p.phone, body: renderTemplate(template.smsText, values) });
      if (p.email) messages.push({ org: input.org, bookingId: row.id, channel: 'email', recipient: p.email, subject: renderTemplate(template.emailSubject, values), body: renderTemplate(template.emailText, values) });
    }
    this.deps.outbox.enqueue(messages);
    return { booking, hostPin, guestPin };
  }

  private toBooking(r: BookingRow): Booking {
    const participants = (this.db.prepare('SELECT name, phone, email, role FROM api_booking_participants WHERE booking_id = ? ORDER BY idx').all(r.id) as Array<{
      name: string;
      phone: string | null;
      email: string | null;
      role: 'host' | 'guest';
    }>).map((p) => ({ name: p.name, ...(p.phone ? { phone: p.phone } : {}), ...(p.email ? { email: p.email } : {}), role: p.role }));
    return {
      id: r.id,
      org: r.org,
      roomId: r.room_id,
      title: r.title,
      start: r.start_at,
      end: r.end_at,
      joinAlias: r.join_alias,
      // '@' and '+' are fine in a path segment and keep the link readable in an SMS.
      joinLink: `${this.deps.publicUrl}/join/${encodeURIComponent(r.join_alias).replace(/%40/g, '@').replace(/%2B/g, '+')}`,
      ...(r.template_id ? { templateId: r.template_id } : {}),
      status: r.status,
      participants,
      createdBy: r.created_by,
      createdAt: r.created_at,
    };
  }

  get(id: string): Booking | undefined {
    const r = this.db.prepare('SELECT * FROM api_bookings WHERE id = ?').get(id) as BookingRow | undefined;
    return r && this.toBooking(r);
  }

  list(filter: { org?: string; from?: string; until?: string } = {}): Booking[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.org !== undefined) (where.push('org = ?'), params.push(filter.org));
    if (filter.from !== undefined) (where.push('end_at > ?'), params.push(new Date(filter.from).toISOString()));
    if (filter.until !== undefined) (where.push('start_at < ?'), params.push(new Date(filter.until).toISOString()));
    const rows = this.db.prepare(`SELECT * FROM api_bookings ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY start_at LIMIT 1000`).all(...params) as BookingRow[];
    return rows.map((r) => this.toBooking(r));
  }

  /** Cancels the booking and removes its room (the join link stops working at once). */
  cancel(id: string): Booking {
    const cur = this.db.prepare('SELECT * FROM api_bookings WHERE id = ?').get(id) as BookingRow | undefined;
    if (!cur) throw notFound(`no booking ${id}`);
    if (cur.status === 'cancelled') throw conflict(`booking ${id} is already cancelled`);
    this.deps.plan.batch(() => {
      if (this.deps.rooms.get(cur.room_id)) this.deps.rooms.remove(cur.room_id);
      this.db.prepare("UPDATE api_bookings SET status = 'cancelled' WHERE id = ?").run(id);
    });
    return this.get(id) as Booking;
  }

  /**
   * Pseudonymises participants of meetings that ended more than `days` ago, and the outbox
   * messages (recipient and text) older than that. Returns how many of each were changed.
   */
  applyRetention(days: number): { bookings: number; messages: number } {
    const cutoff = new Date(this.now().getTime() - days * 86_400_000).toISOString();
    const now = this.now().toISOString();
    return this.db.transaction(() => {
      const ids = this.db.prepare('SELECT id FROM api_bookings WHERE end_at < ? AND pseudonymised_at IS NULL').pluck().all(cutoff) as string[];
      const scrub = this.db.prepare("UPDATE api_booking_participants SET name = 'participant ' || (idx + 1), phone = NULL, email = NULL WHERE booking_id = ?");
      const mark = this.db.prepare('UPDATE api_bookings SET pseudonymised_at = ? WHERE id = ?');
      for (const id of ids) {
        scrub.run(id);
        mark.run(now, id);
      }
      const messages = this.db
        .prepare("UPDATE api_outbox SET recipient = 'removed', subject = CASE WHEN subject IS NULL THEN NULL ELSE 'removed' END, body = 'removed by retention', updated_at = ? WHERE created_at < ? AND recipient <> 'removed'")
        .run(now, cutoff).changes;
      return { bookings: ids.length, messages };
    })();
  }
}

export interface ServiceWindow {
  id: string;
  start: string;
  end: string;
  description: string;
  createdBy: string;
  createdAt: string;
}

/** Announced maintenance of the whole node: operators write, everyone reads. */
export class ServiceWindows {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  create(input: { start: string; end: string; description: string; createdBy: string }): ServiceWindow {
    const start = new Date(input.start).toISOString();
    const end = new Date(input.end).toISOString();
    if (end <= start) throw new ApiProblem(422, 'invalid', 'a service window must end after it starts');
    const w: ServiceWindow = { id: randomUUID(), start, end, description: input.description, createdBy: input.createdBy, createdAt: this.now().toISOString() };
    this.db.prepare('INSERT INTO api_service_windows (id, start_at, end_at, description, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(w.id, w.start, w.end, w.description, w.createdBy, w.createdAt);
    return w;
  }

  list(filter: { current?: boolean } = {}): ServiceWindow[] {
    const rows = this.db.prepare('SELECT * FROM api_service_windows ORDER BY start_at').all() as Array<{ id: string; start_at: string; end_at: string; description: string; created_by: string; created_at: string }>;
    const now = this.now().toISOString();
    return rows
      .filter((r) => !filter.current || r.end_at > now)
      .map((r) => ({ id: r.id, start: r.start_at, end: r.end_at, description: r.description, createdBy: r.created_by, createdAt: r.created_at }));
  }

  get(id: string): ServiceWindow | undefined {
    return this.list().find((w) => w.id === id);
  }

  remove(id: string): void {
    if (this.db.prepare('DELETE FROM api_service_windows WHERE id = ?').run(id).changes === 0) throw notFound(`no service window ${id}`);
  }
}
