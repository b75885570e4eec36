/**
 * Virtual meeting rooms: permanent rooms and one-time (booked) rooms of an organisation, with
 * optional host/guest PINs (stored as scrypt hashes only), a participant limit, a lobby,
 * a lock and branding. A room's aliases are ordinary dial plan aliases of kind 'room' (always
 * public: rooms are reachable by external callers), written through the same DialPlanStore the
 * router listens to, in the same transaction as the room itself.
 */
import { PlanValidationError, type DialPlanStore } from '../dialplan/index.js';
import { migrate, type Db } from '../store/database.js';
import { InvalidRoomError, RoomConflictError, RoomNotFoundError } from './errors.js';
import { roomsMigrations } from './migrations.js';
import { checkPin, HashedPin, hashPin, pinMatchesSync, pinRole } from './pins.js';

export type RoomKind = 'permanent' | 'one-time';

export interface RoomBranding {
  /** https:// URL of the organisation's logo, shown on the join page. */
  logoUrl?: string;
  /** '#rrggbb' or '#rgb', lowercase. */
  color?: string;
}

export interface Room {
  /** Slug: lowercase letters, digits and '-', 1-64 characters; unique. */
  id: string;
  name: string;
  /** The creating organisation (a dial plan organisation). */
  org: string;
  kind: RoomKind;
  /** One-time rooms only: ISO 8601 UTC. */
  validFrom?: string;
  validUntil?: string;
  /** scrypt hash, never the PIN itself. */
  hostPin?: string;
  guestPin?: string;
  maxParticipants: number;
  /** Guests wait in a lobby until a host has joined. Needs a host PIN. */
  lobby: boolean;
  /** Only hosts may join. */
  locked: boolean;
  branding?: RoomBranding;
  createdAt: string;
}

export interface RoomInput {
  /** Generated from the name when omitted (made unique with -2, -3, ...). */
  id?: string;
  name: string;
  org: string;
  /** Default 'permanent'. */
  kind?: RoomKind;
  validFrom?: string | Date;
  validUntil?: string | Date;
  /** 4-12 digits, in clear (hashed here, on the event loop) or hashed ahead; stored hashed. */
  hostPin?: string | HashedPin;
  guestPin?: string | HashedPin;
  /** 2-100, default 25. */
  maxParticipants?: number;
  lobby?: boolean;
  locked?: boolean;
  branding?: RoomBranding;
  /** E.164 numbers or URIs within the organisation's blocks/domains. */
  aliases?: string[];
}

/** Changes to a room; `null` clears an optional field. id, org and createdAt never change. */
export interface RoomPatch {
  name?: string;
  kind?: RoomKind;
  validFrom?: string | Date | null;
  validUntil?: string | Date | null;
  hostPin?: string | HashedPin | null;
  guestPin?: string | HashedPin | null;
  maxParticipants?: number;
  lobby?: boolean;
  locked?: boolean;
  branding?: RoomBranding | null;
}

export const ROOM_ID_RE = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
export const DEFAULT_MAX_PARTICIPANTS = 25;
export const MIN_PARTICIPANTS = 2;
export const MAX_PARTICIPANTS = 100;
const MAX_NAME = 200;
const MAX_ALIASES = 50;
const SLUG_MAX = 48;
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

interface RoomRow {
  id: string;
  name: string;
  org: string;
  kind: RoomKind;
  valid_from: string | null;
  valid_until: string | null;
  host_pin: string | null;
  guest_pin: string | null;
  max_participants: number;
  lobby: number;
  locked: number;
  branding: string | null;
  created_at: string;
}

const COLUMNS = 'id, name, org, kind, valid_from, valid_until, host_pin, guest_pin, max_participants, lobby, locked, branding, created_at';

function fromRow(r: RoomRow): Room {
  return {
    id: r.id,
    name: r.name,
    org: r.org,
    kind: r.kind,
    ...(r.valid_from !== null ? { validFrom: r.valid_from } : {}),
    ...(r.valid_until !== null ? { validUntil: r.valid_until } : {}),
    ...(r.host_pin !== null ? { hostPin: r.host_pin } : {}),
    ...(r.guest_pin !== null ? { guestPin: r.guest_pin } : {}),
    maxParticipants: r.max_participants,
    lobby: r.lobby === 1,
    locked: r.locked === 1,
    ...(r.branding !== null ? { branding: JSON.parse(r.branding) as RoomBranding } : {}),
    createdAt: r.created_at,
  };
}

function toRow(room: Room): RoomRow {
  return {
    id: room.id,
    name: room.name,
    org: room.org,
    kind: room.kind,
    valid_from: room.validFrom ?? null,
    valid_until: room.validUntil ?? null,
    host_pin: room.hostPin ?? null,
    guest_pin: room.guestPin ?? null,
    max_participants: room.maxParticipants,
    lobby: room.lobby ? 1 : 0,
    locked: room.locked ? 1 : 0,
    branding: room.branding ? JSON.stringify(room.branding) : null,
    created_at: room.createdAt,
  };
}

/** Shortens untrusted input for error messages. */
function printable(input: unknown, max = 80): string {
  const s = String(input).replace(/[\u0000-\u001f\u007f]/g, '?');
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** A room id from a name: 'Akutmottagning Lund' → 'akutmottagning-lund', 'Göteborg Ø' → 'goteborg-o'. */
export function slugify(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/æ/g, 'ae')
    .replace(/ø/g, 'o')
    .replace(/œ/g, 'oe')
    .replace(/ß/g, 'ss')
    .replace(/đ/g, 'd')
    .replace(/ł/g, 'l')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, SLUG_MAX)
    .replace(/-+$/, '');
  return slug || 'room';
}

export function checkRoomId(id: unknown): string {
  if (typeof id !== 'string' || !ROOM_ID_RE.test(id)) {
    throw new InvalidRoomError(`room id "${printable(id)}" is invalid: use 1-64 lowercase letters, digits and '-', not starting or ending with '-'`);
  }
  return id;
}

function checkName(name: unknown): string {
  const n = typeof name === 'string' ? name.trim() : '';
  if (n.length === 0 || n.length > MAX_NAME || /[\u0000-\u001f\u007f]/.test(n)) {
    throw new InvalidRoomError(`room name must be 1-${MAX_NAME} characters without control characters`);
  }
  return n;
}

function checkKind(kind: unknown): RoomKind {
  if (kind !== 'permanent' && kind !== 'one-time') throw new InvalidRoomError(`room kind "${printable(kind)}" must be permanent or one-time`);
  return kind;
}

function checkTime(value: unknown, what: string): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new InvalidRoomError(`${what} is not a valid time`);
    return value.toISOString();
  }
  const m = typeof value === 'string' ? ISO_RE.exec(value.trim()) : null;
  const ms = m ? Date.parse(value as string) : NaN;
  // Date.parse accepts 2025-02-30; the calendar does not.
  const day = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!m || Number.isNaN(ms) || day!.getUTCMonth() !== Number(m[2]) - 1 || day!.getUTCDate() !== Number(m[3])) {
    throw new InvalidRoomError(`${what} "${printable(value)}" must be an ISO 8601 time with a time zone, e.g. 2025-03-01T13:00:00Z`);
  }
  return new Date(ms).toISOString();
}

function checkMax(n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < MIN_PARTICIPANTS || n > MAX_PARTICIPANTS) {
    throw new InvalidRoomError(`maximum participants must be a whole number ${MIN_PARTICIPANTS}-${MAX_PARTICIPANTS}, not ${printable(n)}`);
  }
  return n;
}

function checkFlag(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new InvalidRoomError(`${what} must be true or false`);
  return v;
}

export function checkBranding(b: unknown): RoomBranding | undefined {
  if (b === undefined || b === null) return undefined;
  if (typeof b !== 'object' || Array.isArray(b)) throw new InvalidRoomError('branding must be an object {logoUrl?, color?}');
  const { logoUrl, color, ...rest } = b as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new InvalidRoomError(`branding has unknown field "${printable(unknown[0])}" (allowed: logoUrl, color)`);
  const out: RoomBranding = {};
  if (logoUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = typeof logoUrl === 'string' && logoUrl.length <= 2048 ? new URL(logoUrl) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || url.protocol !== 'https:' || url.username || url.password) {
      throw new InvalidRoomError(`branding logo URL "${printable(logoUrl)}" must be an https:// URL of at most 2048 characters`);
    }
    out.logoUrl = url.href;
  }
  if (color !== undefined) {
    if (typeof color !== 'string' || !/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(color)) {
      throw new InvalidRoomError(`branding colour "${printable(color)}" must be #rgb or #rrggbb`);
    }
    out.color = color.toLowerCase();
  }
  return out.logoUrl === undefined && out.color === undefined ? undefined : out;
}

/** Rules that concern several fields together; `room` has single fields checked already. */
function checkRoom(room: Room): Room {
  if (room.kind === 'one-time') {
    if (!room.validFrom || !room.validUntil) throw new InvalidRoomError('a one-time room needs both a start (validFrom) and an end (validUntil)');
    if (room.validUntil <= room.validFrom) throw new InvalidRoomError(`a one-time room must end after it starts (${room.validFrom} → ${room.validUntil})`);
  } else if (room.validFrom || room.validUntil) {
    throw new InvalidRoomError('a permanent room has no start or end time; make it one-time to give it one');
  }
  if (room.lobby && !room.hostPin) throw new InvalidRoomError('a room with a lobby needs a host PIN (guests wait until a host joins)');
  return room;
}

/** The clear digits of a PIN as given: in clear, or kept beside its hash by HashedPin. */
function clearPin(pin: unknown): unknown {
  return pin instanceof HashedPin ? pin.clear : pin;
}

/** Hashes a new PIN (unless hashed ahead), refusing one equal to the room's other PIN (it could never mean guest). */
function newPin(pin: unknown, what: 'host PIN' | 'guest PIN', other: { clear?: unknown; hash?: string }): string {
  const p = checkPin(clearPin(pin), what);
  const otherClear = clearPin(other.clear);
  if (otherClear === p || (otherClear === undefined && other.hash && pinMatchesSync(other.hash, p))) {
    throw new InvalidRoomError('the host PIN and the guest PIN must differ');
  }
  return pin instanceof HashedPin ? pin.hash : hashPin(p);
}

export class RoomStore {
  readonly db: Db;
  private readonly now: () => Date;
  private readonly stmts: ReturnType<RoomStore['prepare']>;

  /**
   * `plan` must be the node's DialPlanStore instance (the router listens to it); the rooms
   * live in the same database, so a room and its aliases commit together.
   */
  constructor(
    readonly plan: DialPlanStore,
    opts: { now?: () => Date } = {},
  ) {
    this.db = plan.db;
    this.now = opts.now ?? (() => new Date());
    migrate(this.db, roomsMigrations);
    this.stmts = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      get: db.prepare(`SELECT ${COLUMNS} FROM rooms WHERE id = ?`),
      exists: db.prepare('SELECT 1 FROM rooms WHERE id = ?').pluck(),
      insert: db.prepare(
        `INSERT INTO rooms (${COLUMNS}) VALUES (@id, @name, @org, @kind, @valid_from, @valid_until, @host_pin, @guest_pin, @max_participants, @lobby, @locked, @branding, @created_at)`,
      ),
      update: db.prepare(
        `UPDATE rooms SET name = @name, kind = @kind, valid_from = @valid_from, valid_until = @valid_until, host_pin = @host_pin, guest_pin = @guest_pin,
           max_participants = @max_participants, lobby = @lobby, locked = @locked, branding = @branding WHERE id = @id`,
      ),
      delete: db.prepare('DELETE FROM rooms WHERE id = ?'),
      // Read-only look into the plan's table: the plan has no lookup by target.
      aliases: db.prepare("SELECT alias FROM dialplan_aliases WHERE kind = 'room' AND target = ? ORDER BY alias").pluck(),
    };
  }

  /**
   * Creates a room and its aliases in one transaction: an alias the plan refuses (outside the
   * organisation's blocks or domains, taken, malformed) leaves no room behind, and the plan's
   * error is thrown unchanged.
   */
  create(input: RoomInput): Room {
    if (typeof input !== 'object' || input === null) throw new InvalidRoomError('room must be an object');
    const name = checkName(input.name);
    if (typeof input.org !== 'string' || input.org.length === 0) throw new InvalidRoomError('a room needs the organisation that creates it (org)');
    const kind = checkKind(input.kind ?? 'permanent');
    const id = input.id === undefined ? undefined : checkRoomId(input.id);
    const aliases = input.aliases ?? [];
    if (!Array.isArray(aliases) || aliases.length > MAX_ALIASES) throw new InvalidRoomError(`aliases must be a list of at most ${MAX_ALIASES} numbers or URIs`);
    const validFrom = input.validFrom === undefined ? undefined : checkTime(input.validFrom, 'start time (validFrom)');
    const validUntil = input.validUntil === undefined ? undefined : checkTime(input.validUntil, 'end time (validUntil)');
    const now = this.now();
    if (validUntil && Date.parse(validUntil) <= now.getTime()) throw new InvalidRoomError(`the end time ${validUntil} has already passed`);
    if (input.hostPin !== undefined) checkPin(clearPin(input.hostPin), 'host PIN');
    if (input.guestPin !== undefined) checkPin(clearPin(input.guestPin), 'guest PIN');
    const branding = checkBranding(input.branding);
    const draft: Room = {
      id: id ?? '',
      name,
      org: input.org,
      kind,
      ...(validFrom ? { validFrom } : {}),
      ...(validUntil ? { validUntil } : {}),
      ...(input.hostPin !== undefined ? { hostPin: 'pending' } : {}),
      ...(input.guestPin !== undefined ? { guestPin: 'pending' } : {}),
      maxParticipants: checkMax(input.maxParticipants ?? DEFAULT_MAX_PARTICIPANTS),
      lobby: checkFlag(input.lobby ?? false, 'lobby'),
      locked: checkFlag(input.locked ?? false, 'locked'),
      ...(branding ? { branding } : {}),
      createdAt: now.toISOString(),
    };
    checkRoom(draft);
    // Hashing is the slow part: done once everything else is known to be valid.
    if (input.hostPin !== undefined) draft.hostPin = newPin(input.hostPin, 'host PIN', {});
    if (input.guestPin !== undefined) draft.guestPin = newPin(input.guestPin, 'guest PIN', { clear: input.hostPin });

    return this.plan.batch(() => {
      if (!this.plan.getOrg(draft.org)) throw new InvalidRoomError(`no organisation named "${printable(draft.org)}"`);
      if (id !== undefined) {
        if (this.stmts.exists.get(id)) throw new RoomConflictError(`a room with id "${id}" already exists`);
      } else {
        const base = slugify(name);
        let candidate = base;
        for (let n = 2; this.stmts.exists.get(candidate); n++) candidate = `${base}-${n}`;
        draft.id = candidate;
      }
      this.stmts.insert.run(toRow(draft));
      if (aliases.length > 0) this.plan.addAliases(aliases.map((alias) => ({ alias, kind: 'room' as const, target: draft.id, org: draft.org, public: true })));
      return draft;
    });
  }

  get(id: string): Room | undefined {
    const row = this.stmts.get.get(id) as RoomRow | undefined;
    return row && fromRow(row);
  }

  /** Like get, but a missing room is a RoomNotFoundError. */
  require(id: string): Room {
    const room = this.get(id);
    if (!room) throw new RoomNotFoundError(`no room with id "${printable(id)}"`);
    return room;
  }

  list(filter: { org?: string } = {}): Room[] {
    const rows = (filter.org === undefined
      ? this.db.prepare(`SELECT ${COLUMNS} FROM rooms ORDER BY org, id`).all()
      : this.db.prepare(`SELECT ${COLUMNS} FROM rooms WHERE org = ? ORDER BY id`).all(filter.org)) as RoomRow[];
    return rows.map(fromRow);
  }

  /** The room an alias leads to (any form the plan normalises: '040-5000', 'sip:room1@skane.se'). */
  byAlias(alias: string): Room | undefined {
    let a;
    try {
      a = this.plan.getAlias(alias);
    } catch (e) {
      if (e instanceof PlanValidationError) return undefined;
      throw e;
    }
    return a?.kind === 'room' ? this.get(a.target) : undefined;
  }

  /** The room's aliases in normalised form. */
  aliasesOf(id: string): string[] {
    return this.stmts.aliases.all(id) as string[];
  }

  addAlias(id: string, alias: string): string {
    const room = this.require(id);
    return this.plan.addAlias({ alias, kind: 'room', target: room.id, org: room.org, public: true }).alias;
  }

  removeAlias(id: string, alias: string): void {
    this.plan.batch(() => {
      const a = this.plan.getAlias(alias);
      if (!a || a.kind !== 'room' || a.target !== id) throw new RoomNotFoundError(`${printable(alias)} is not an alias of room "${printable(id)}"`);
      this.plan.removeAlias(a.alias);
    });
  }

  update(id: string, patch: RoomPatch): Room {
    if (typeof patch !== 'object' || patch === null) throw new InvalidRoomError('room changes must be an object');
    const cur = this.require(id);
    const next: Room = { ...cur };
    if (patch.name !== undefined) next.name = checkName(patch.name);
    if (patch.kind !== undefined) next.kind = checkKind(patch.kind);
    const time = (v: string | Date | null | undefined, what: string, current: string | undefined): string | undefined =>
      // Turning a room permanent drops its validity window unless the patch sets one.
      v === undefined ? (patch.kind === 'permanent' ? undefined : current) : v === null ? undefined : checkTime(v, what);
    const validFrom = time(patch.validFrom, 'start time (validFrom)', cur.validFrom);
    const validUntil = time(patch.validUntil, 'end time (validUntil)', cur.validUntil);
    delete next.validFrom;
    delete next.validUntil;
    if (validFrom) next.validFrom = validFrom;
    if (validUntil) next.validUntil = validUntil;
    if (patch.maxParticipants !== undefined) next.maxParticipants = checkMax(patch.maxParticipants);
    if (patch.lobby !== undefined) next.lobby = checkFlag(patch.lobby, 'lobby');
    if (patch.locked !== undefined) next.locked = checkFlag(patch.locked, 'locked');
    if (patch.branding !== undefined) {
      const b = checkBranding(patch.branding);
      delete next.branding;
      if (b) next.branding = b;
    }
    // A new PIN: a string in clear or one hashed ahead (null clears, undefined keeps).
    const newHost = patch.hostPin ?? undefined;
    const newGuest = patch.guestPin ?? undefined;
    if (patch.hostPin === null) delete next.hostPin;
    else if (newHost !== undefined) checkPin(clearPin(newHost), 'host PIN');
    if (patch.guestPin === null) delete next.guestPin;
    else if (newGuest !== undefined) checkPin(clearPin(newGuest), 'guest PIN');
    if (newHost !== undefined) next.hostPin = 'pending';
    checkRoom(next);
    if (newHost !== undefined) {
      next.hostPin = newPin(newHost, 'host PIN', newGuest !== undefined ? { clear: newGuest } : { hash: next.guestPin });
    }
    if (newGuest !== undefined) {
      next.guestPin = newPin(newGuest, 'guest PIN', newHost !== undefined ? { clear: newHost } : { hash: next.hostPin });
    }
    if (this.stmts.update.run(toRow(next)).changes === 0) throw new RoomNotFoundError(`no room with id "${printable(id)}"`);
    return next;
  }

  setLocked(id: string, locked: boolean): Room {
    return this.update(id, { locked });
  }

  /** Removes a room and every alias that leads to it, in one transaction. */
  remove(id: string): void {
    this.plan.batch(() => {
      this.require(id);
      for (const alias of this.aliasesOf(id)) this.plan.removeAlias(alias);
      this.stmts.delete.run(id);
    });
  }

  /**
   * Deletes one-time rooms that ended before `before` (with their aliases), for retention:
   * a booked meeting's room does not outlive it. Returns the removed ids.
   */
  removeExpired(before: Date = this.now()): string[] {
    const ids = this.db.prepare("SELECT id FROM rooms WHERE kind = 'one-time' AND valid_until < ? ORDER BY id").pluck().all(before.toISOString()) as string[];
    if (ids.length > 0) this.plan.batch(() => ids.forEach((id) => this.remove(id)));
    return ids;
  }

  /**
   * Which role a PIN grants: 'host', 'guest', or null (refused). A room without PINs admits
   * everyone as guest; with only a host PIN, guests need none. Constant-time comparisons.
   */
  verifyPin(room: Pick<Room, 'hostPin' | 'guestPin'>, pin: string | undefined): Promise<'host' | 'guest' | null> {
    return pinRole(room, pin);
  }
}
