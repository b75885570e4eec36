/**
 * Live state of the meeting rooms: who is in which room right now, and the media room that
 * exists on the SFU while anyone is in it. Admission is decided from the stored room (read
 * fresh on every join, so a lock or a new PIN applies at once) and the live state, and a place
 * is reserved synchronously, so concurrent joins can neither overfill a room nor create its
 * media room twice. Media operations of one room run strictly one after another (create,
 * destroy, re-create after a media restart), across successive openings of the room.
 *
 * Events carry ids, kinds, organisations and times but no display names: they feed capacity
 * tracking and statistics, which are pseudonymised.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { admit, AdmissionError } from './admission.js';
import type { PinGuard } from './pin-guard.js';
import { pinRole } from './pins.js';
import { InvalidRoomError, RoomError } from './errors.js';
import type { Room, RoomKind, RoomStore } from './store.js';

export { AdmissionError, type AdmissionErrorReason } from './admission.js';

/** The slice of the media plane (src/media/plane.ts, over Janus) that the room manager uses. */
export interface MediaRoomSpec {
  roomId: string;
  maxParticipants: number;
  description?: string;
}
export interface MediaPlane {
  /** Creates the SFU room if it does not exist (idempotent). */
  ensureRoom(spec: MediaRoomSpec): Promise<void>;
  destroyRoom(roomId: string): Promise<void>;
  /** 'down': the media server is gone; 'restarted': it is back, empty. */
  on(event: 'restarted' | 'down', fn: () => void): void;
}

/** The media room could not be created; the join did not happen. */
export class MediaUnavailableError extends RoomError {
  override name = 'MediaUnavailableError';
  override readonly code = 'media_unavailable';
}

export type ParticipantKind = 'browser' | 'sip';
export type ParticipantRole = 'host' | 'guest';

export interface Participant {
  id: string;
  roomId: string;
  /** The room's organisation. */
  org: string;
  kind: ParticipantKind;
  displayName: string;
  role: ParticipantRole;
  joinedAt: string;
  /** A guest admitted to a lobby room before any host: waits until 'lobby-released'. */
  waitingInLobby: boolean;
  /** The caller's organisation, when it is a connected endpoint. */
  callerOrg?: string;
}

export interface JoinRequest {
  kind: ParticipantKind;
  displayName: string;
  pin?: string;
  /** The caller's organisation (a registered endpoint); absent for external callers. */
  org?: string;
  /** The network address the person joins from, for PIN guessing protection (PinGuard). */
  source?: string;
}

/** What every participant event says about the participant; no display name. */
export interface ParticipantEventBase {
  participantId: string;
  roomId: string;
  /** The room's organisation. */
  org: string;
  callerOrg?: string;
  kind: ParticipantKind;
  role: ParticipantRole;
  /** ISO time of the event. */
  at: string;
}

export interface ParticipantJoinedEvent extends ParticipantEventBase {
  joinedAt: string;
  waitingInLobby: boolean;
  /** Participants in the room after this join. */
  participants: number;
}

export interface ParticipantLeftEvent extends ParticipantEventBase {
  /** 'left', 'disconnected', 'bye', 'room-closed', ... as the caller of leave() gave it. */
  reason: string;
  joinedAt: string;
  durationMs: number;
  /** Participants left in the room. */
  participants: number;
}

export interface LobbyReleasedEvent extends ParticipantEventBase {
  /** When the participant started waiting. */
  joinedAt: string;
  waitedMs: number;
}

export interface RoomOpenedEvent {
  roomId: string;
  org: string;
  roomKind: RoomKind;
  at: string;
}

export interface RoomClosedEvent {
  roomId: string;
  org: string;
  roomKind: RoomKind;
  openedAt: string;
  at: string;
  durationMs: number;
  peakParticipants: number;
}

export interface MediaRestartedEvent {
  /** Active rooms whose media rooms were re-created. */
  roomIds: string[];
  /** Active rooms whose media room could not be re-created (retried on the next join). */
  failed: string[];
  at: string;
}

/** A PIN refused: wrong, or not tried because its address made too many wrong (PinGuard). */
export interface PinRefusedEvent {
  roomId: string;
  org: string;
  kind: ParticipantKind;
  reason: 'wrong-pin' | 'too-many-attempts';
  at: string;
}

export interface RoomManagerEvents {
  'pin-refused': [PinRefusedEvent];
  'participant-joined': [ParticipantJoinedEvent];
  'participant-left': [ParticipantLeftEvent];
  'room-opened': [RoomOpenedEvent];
  'room-closed': [RoomClosedEvent];
  'lobby-released': [LobbyReleasedEvent];
  'media-restarted': [MediaRestartedEvent];
}

export interface RoomsSnapshot {
  at: string;
  rooms: Array<{
    roomId: string;
    name: string;
    org: string;
    roomKind: RoomKind;
    locked: boolean;
    lobby: boolean;
    maxParticipants: number;
    media: MediaState;
    openedAt?: string;
    peakParticipants: number;
    participants: Array<Omit<Participant, 'roomId' | 'org'> & { joining: boolean }>;
  }>;
}

export type RoomLog = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

type MediaState = 'pending' | 'ready' | 'failed' | 'down';

interface LiveRoom {
  id: string;
  /** The stored room as read at the latest join. */
  room: Room;
  participants: Map<string, Participant>;
  /** Admitted but still waiting for the media room: not announced yet. */
  joining: Set<string>;
  media: MediaState;
  /** Settles when the latest media operation for this opening does. */
  ready: Promise<void>;
  /** Bumped whenever a pending media result must be ignored (media down, room closed). */
  generation: number;
  openedAt?: Date;
  peak: number;
}

const MAX_DISPLAY_NAME = 100;

export class RoomManager extends EventEmitter<RoomManagerEvents> {
  private readonly store: RoomStore;
  private readonly media: MediaPlane;
  private readonly log: RoomLog;
  private readonly now: () => Date;
  private readonly rooms = new Map<string, LiveRoom>();
  private readonly byParticipant = new Map<string, LiveRoom>();
  /** Tail of each room id's chain of media operations. */
  private readonly mediaQueue = new Map<string, Promise<void>>();
  private disposed = false;

  private readonly pinGuard: PinGuard | undefined;

  constructor(opts: { store: RoomStore; media: MediaPlane; log: RoomLog; now?: () => Date; pinGuard?: PinGuard }) {
    super();
    this.pinGuard = opts.pinGuard;
    this.store = opts.store;
    this.media = opts.media;
    this.log = opts.log;
    this.now = opts.now ?? (() => new Date());
    this.media.on('down', () => this.onMediaDown());
    this.media.on('restarted', () => void this.onMediaRestarted());
  }

  /**
   * Admits a participant to a room, given by id or by any alias that leads to it. The first
   * participant makes the media room exist. Refusals are AdmissionErrors (reason + a sentence
   * for the person); a media room that cannot be created is a MediaUnavailableError.
   */
  async join(roomIdOrAlias: string, req: JoinRequest): Promise<Participant> {
    if (this.disposed) throw new MediaUnavailableError('the room manager is shut down');
    if (req.kind !== 'browser' && req.kind !== 'sip') throw new InvalidRoomError('participant kind must be browser or sip');
    const displayName = typeof req.displayName === 'string' ? req.displayName.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, MAX_DISPLAY_NAME) : '';
    if (displayName.length === 0) throw new InvalidRoomError('a participant needs a display name');

    let room = this.resolve(roomIdOrAlias);
    if (!room) throw new AdmissionError('not-found', 'There is no meeting room at this address.');
    const pin = req.pin === '' ? undefined : req.pin;
    const guarded = pin !== undefined && !!(room.hostPin || room.guestPin) && req.source !== undefined ? { roomId: room.id, source: req.source } : undefined;
    const lockedMs = guarded ? (this.pinGuard?.lockedFor(guarded.roomId, guarded.source) ?? 0) : 0;
    if (lockedMs > 0) {
      this.log.warn({ room: room.id, source: req.source, kind: req.kind }, 'PIN refused: too many wrong PINs from this address');
      this.fire('pin-refused', { roomId: room.id, org: room.org, kind: req.kind, reason: 'too-many-attempts', at: this.now().toISOString() });
      const minutes = Math.ceil(lockedMs / 60_000);
      throw new AdmissionError('too-many-attempts', `Too many wrong PINs for this meeting from your network. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`);
    }
    // The PIN is hashed off the event loop; the room is read again after it, so the decision
    // below (counts, lock, host present) is taken on the state of this instant.
    const role = await pinRole(room, pin);
    room = this.resolve(room.id);
    if (!room) throw new AdmissionError('not-found', 'There is no meeting room at this address.');
    let live = this.rooms.get(room.id);
    const now = this.now();
    const decision = admit(room, {
      pin: req.pin,
      pinRole: role,
      now,
      participants: live?.participants.size ?? 0,
      hostPresent: live ? [...live.participants.values()].some((p) => p.role === 'host') : false,
    });
    if (!decision.ok) {
      // A wrong PIN counts only where admission got as far as the PIN (not before the meeting's start).
      if (decision.reason === 'wrong-pin') {
        if (guarded) this.pinGuard?.failed(guarded.roomId, guarded.source);
        this.fire('pin-refused', { roomId: room.id, org: room.org, kind: req.kind, reason: 'wrong-pin', at: now.toISOString() });
      }
      this.log.info({ room: room.id, reason: decision.reason, kind: req.kind }, 'room join refused');
      throw new AdmissionError(decision.reason, decision.message);
    }

    if (!live) {
      live = { id: room.id, room, participants: new Map(), joining: new Set(), media: 'failed', ready: Promise.resolve(), generation: 0, peak: 0 };
      this.rooms.set(room.id, live);
    }
    live.room = room;
    const p: Participant = {
      id: randomUUID(),
      roomId: room.id,
      org: room.org,
      kind: req.kind,
      displayName,
      role: decision.role,
      joinedAt: now.toISOString(),
      waitingInLobby: decision.waitInLobby,
      ...(req.org ? { callerOrg: req.org } : {}),
    };
    live.participants.set(p.id, p);
    live.joining.add(p.id);
    this.byParticipant.set(p.id, live);
    if (live.media === 'failed' || live.media === 'down') this.ensureMedia(live);

    try {
      await live.ready;
    } catch (err) {
      this.drop(live, p.id);
      throw new MediaUnavailableError(`the media room for "${room.id}" could not be created: ${(err as Error).message}`);
    }
    live.joining.delete(p.id);
    if (!live.participants.has(p.id)) throw new MediaUnavailableError(`the room "${room.id}" was closed while joining`);
    // A host admitted while this guest waited for the media room lets it in at once (the
    // host's PIN is hashed off the event loop, so "together" may mean the host came second).
    if (p.waitingInLobby && [...live.participants.values()].some((q) => q.role === 'host')) p.waitingInLobby = false;
    live.peak = Math.max(live.peak, live.participants.size);
    this.fire('participant-joined', {
      ...this.eventBase(p),
      joinedAt: p.joinedAt,
      waitingInLobby: p.waitingInLobby,
      participants: live.participants.size,
    });
    this.log.info({ room: room.id, participant: p.id, kind: p.kind, role: p.role, lobby: p.waitingInLobby }, 'participant joined');
    if (p.role === 'host') this.releaseLobby(live);
    return { ...p };
  }

  /**
   * Takes a participant out of its room; the last one out closes the room and destroys its
   * media room. Unknown or already-gone ids are ignored (returns false).
   */
  leave(participantId: string, reason = 'left'): boolean {
    const live = this.byParticipant.get(participantId);
    const p = live?.participants.get(participantId);
    if (!live || !p) return false;
    // A participant still joining has not been handed out, so it cannot leave yet.
    if (live.joining.has(participantId)) return false;
    live.participants.delete(participantId);
    this.byParticipant.delete(participantId);
    const now = this.now();
    this.fire('participant-left', {
      ...this.eventBase(p),
      reason,
      joinedAt: p.joinedAt,
      durationMs: now.getTime() - Date.parse(p.joinedAt),
      participants: live.participants.size,
    });
    this.log.info({ room: live.id, participant: p.id, reason }, 'participant left');
    if (live.participants.size === 0) this.closeLive(live);
    return true;
  }

  /** Ends a meeting: every participant leaves with `reason`. Returns how many there were. */
  closeRoom(roomId: string, reason = 'room-closed'): number {
    const live = this.rooms.get(roomId);
    if (!live) return 0;
    const ids = [...live.participants.keys()].filter((id) => !live.joining.has(id));
    for (const id of ids) this.leave(id, reason);
    return ids.length;
  }

  participant(participantId: string): Participant | undefined {
    const p = this.byParticipant.get(participantId)?.participants.get(participantId);
    return p && { ...p };
  }

  participants(roomId: string): Participant[] {
    const live = this.rooms.get(roomId);
    return live ? [...live.participants.values()].filter((p) => !live.joining.has(p.id)).map((p) => ({ ...p })) : [];
  }

  /** Ids of the rooms with anyone in them (or joining). */
  activeRooms(): string[] {
    return [...this.rooms.keys()];
  }

  snapshot(): RoomsSnapshot {
    return {
      at: this.now().toISOString(),
      rooms: [...this.rooms.values()].map((live) => ({
        roomId: live.id,
        name: live.room.name,
        org: live.room.org,
        roomKind: live.room.kind,
        locked: live.room.locked,
        lobby: live.room.lobby,
        maxParticipants: live.room.maxParticipants,
        media: live.media,
        ...(live.openedAt ? { openedAt: live.openedAt.toISOString() } : {}),
        peakParticipants: live.peak,
        participants: [...live.participants.values()].map(({ roomId: _r, org: _o, ...p }) => ({ ...p, joining: live.joining.has(p.id) })),
      })),
    };
  }

  /** Stops reacting to media events and refuses new joins; live state is left as it is. */
  dispose(): void {
    this.disposed = true;
  }

  // ---- internals ---------------------------------------------------------------------------

  private resolve(target: string): Room | undefined {
    if (typeof target !== 'string' || target.length === 0 || target.length > 256) return undefined;
    return this.store.get(target) ?? this.store.byAlias(target);
  }

  private eventBase(p: Participant): ParticipantEventBase {
    return {
      participantId: p.id,
      roomId: p.roomId,
      org: p.org,
      ...(p.callerOrg ? { callerOrg: p.callerOrg } : {}),
      kind: p.kind,
      role: p.role,
      at: this.now().toISOString(),
    };
  }

  /** Emits to every listener; one that throws is logged and does not stop the others. */
  private fire<K extends keyof RoomManagerEvents>(event: K, payload: RoomManagerEvents[K][0]): void {
    for (const listener of this.rawListeners(event)) {
      try {
        (listener as (arg: RoomManagerEvents[K][0]) => void).call(this, payload);
      } catch (err) {
        this.log.error({ err, event }, 'room event listener failed');
      }
    }
  }

  /** Runs media operations of one room id one after another, whatever the previous outcome. */
  private enqueue(roomId: string, op: () => Promise<void>): Promise<void> {
    const previous = this.mediaQueue.get(roomId) ?? Promise.resolve();
    const result = previous.then(op);
    const tail = result.catch(() => {});
    this.mediaQueue.set(roomId, tail);
    void tail.then(() => {
      if (this.mediaQueue.get(roomId) === tail) this.mediaQueue.delete(roomId);
    });
    return result;
  }

  /** (Re-)creates the media room; joiners wait on `live.ready`. */
  private ensureMedia(live: LiveRoom): Promise<void> {
    const generation = ++live.generation;
    live.media = 'pending';
    const spec: MediaRoomSpec = { roomId: live.id, maxParticipants: live.room.maxParticipants, description: live.room.name };
    const ready = this.enqueue(live.id, () => this.media.ensureRoom(spec)).then(
      () => {
        if (generation !== live.generation) return;
        live.media = 'ready';
        if (!live.openedAt) {
          live.openedAt = this.now();
          this.fire('room-opened', { roomId: live.id, org: live.room.org, roomKind: live.room.kind, at: live.openedAt.toISOString() });
          this.log.info({ room: live.id }, 'room opened');
        }
      },
      (err: unknown) => {
        if (generation === live.generation) live.media = 'failed';
        this.log.warn({ room: live.id, err: (err as Error)?.message }, 'media room could not be created');
        throw err;
      },
    );
    ready.catch(() => {});
    live.ready = ready;
    return ready;
  }

  /** Releases every guest waiting in the lobby (a host is in). */
  private releaseLobby(live: LiveRoom): void {
    const now = this.now();
    for (const q of live.participants.values()) {
      if (!q.waitingInLobby) continue;
      q.waitingInLobby = false;
      // One still joining is told it waits not at all when its join returns.
      if (live.joining.has(q.id)) continue;
      this.fire('lobby-released', { ...this.eventBase(q), joinedAt: q.joinedAt, waitedMs: now.getTime() - Date.parse(q.joinedAt) });
    }
  }

  /** A joiner whose media room failed is taken out without events; an emptied room goes. */
  private drop(live: LiveRoom, participantId: string): void {
    live.participants.delete(participantId);
    live.joining.delete(participantId);
    this.byParticipant.delete(participantId);
    if (live.participants.size === 0 && this.rooms.get(live.id) === live) this.closeLive(live);
  }

  private closeLive(live: LiveRoom): void {
    if (this.rooms.get(live.id) === live) this.rooms.delete(live.id);
    live.generation++;
    const opened = live.openedAt;
    this.enqueue(live.id, () => this.media.destroyRoom(live.id)).catch((err: unknown) =>
      this.log.warn({ room: live.id, err: (err as Error)?.message }, 'media room could not be destroyed'),
    );
    if (!opened) return;
    const now = this.now();
    this.fire('room-closed', {
      roomId: live.id,
      org: live.room.org,
      roomKind: live.room.kind,
      openedAt: opened.toISOString(),
      at: now.toISOString(),
      durationMs: now.getTime() - opened.getTime(),
      peakParticipants: live.peak,
    });
    this.log.info({ room: live.id, peak: live.peak }, 'room closed');
  }

  private onMediaDown(): void {
    if (this.disposed) return;
    this.log.warn({ rooms: this.rooms.size }, 'media plane down');
    for (const live of this.rooms.values()) {
      live.generation++;
      live.media = 'down';
    }
  }

  /** The media server came back empty: re-create every active room, then tell signalling. */
  private async onMediaRestarted(): Promise<void> {
    if (this.disposed) return;
    const active = [...this.rooms.values()];
    this.log.warn({ rooms: active.length }, 'media plane restarted; re-creating active rooms');
    const results = await Promise.allSettled(active.map((live) => this.ensureMedia(live)));
    const failed = active.filter((_, i) => results[i].status === 'rejected').map((l) => l.id);
    this.fire('media-restarted', { roomIds: active.map((l) => l.id).filter((id) => !failed.includes(id)), failed, at: this.now().toISOString() });
  }
}
