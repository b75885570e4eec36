/**
 * Whether someone may enter a meeting room now, and as what. Pure: the caller supplies the
 * time and the room's live state. Checks run in this order so a refusal reveals nothing the
 * person may not know: the validity window (public on the join page), then the PIN, and only
 * then the room's state (locked, full) for those who have the right PIN.
 */
import { RoomError } from './errors.js';
import type { Room } from './store.js';

export type AdmissionRefusal = 'not-yet-valid' | 'expired' | 'wrong-pin' | 'pin-required' | 'full' | 'locked';

export interface AdmissionRequest {
  /** As typed by the person; '' is the same as none. */
  pin?: string;
  /**
   * What `pinRole()` made of that PIN for this room (hashing is asynchronous, so it is done
   * before this pure decision): 'host', 'guest', or null (refused).
   */
  pinRole: 'host' | 'guest' | null;
  now: Date | number;
  /** Participants already in the room (including those waiting in the lobby). */
  participants: number;
  /** A host is in the room. */
  hostPresent: boolean;
}

export type AdmissionDecision =
  | { ok: true; role: 'host' | 'guest'; waitInLobby: boolean }
  | { ok: false; reason: AdmissionRefusal; message: string };

export type AdmissionRoom = Pick<Room, 'kind' | 'validFrom' | 'validUntil' | 'hostPin' | 'guestPin' | 'maxParticipants' | 'lobby' | 'locked'>;

/** '2025-03-01T13:00:00.000Z' → '2025-03-01 13:00 UTC': plain, no locale. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const s = d.toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, d.getUTCSeconds() === 0 ? 16 : 19)} UTC`;
}

export const ADMISSION_MESSAGES = {
  'wrong-pin': 'The PIN is not right. Check it and try again.',
  'pin-required': 'This meeting needs a PIN.',
  locked: 'The meeting is locked by its host.',
} as const;

function refuse(reason: AdmissionRefusal, message: string): AdmissionDecision {
  return { ok: false, reason, message };
}

export function admit(room: AdmissionRoom, req: AdmissionRequest): AdmissionDecision {
  const now = typeof req.now === 'number' ? req.now : req.now.getTime();
  if (room.kind === 'one-time') {
    if (room.validFrom && now < Date.parse(room.validFrom)) return refuse('not-yet-valid', `This meeting starts at ${formatTime(room.validFrom)}.`);
    if (room.validUntil && now >= Date.parse(room.validUntil)) return refuse('expired', `This meeting ended at ${formatTime(room.validUntil)}.`);
  }
  const pin = req.pin === '' ? undefined : req.pin;
  const role = req.pinRole;
  if (role === null) return pin === undefined ? refuse('pin-required', ADMISSION_MESSAGES['pin-required']) : refuse('wrong-pin', ADMISSION_MESSAGES['wrong-pin']);
  if (room.locked && role !== 'host') return refuse('locked', ADMISSION_MESSAGES.locked);
  if (req.participants >= room.maxParticipants) return refuse('full', `The meeting room is full (${room.maxParticipants} participants).`);
  return { ok: true, role, waitInLobby: room.lobby && role === 'guest' && !req.hostPresent };
}

/**
 * Why a join was refused: an admission refusal, no room at the dialled address, or too many
 * wrong PINs from the caller's address (PinGuard).
 */
export type AdmissionErrorReason = AdmissionRefusal | 'not-found' | 'too-many-attempts';

/** A join refused for a reason the person can act on; `message` is meant for them. */
export class AdmissionError extends RoomError {
  override name = 'AdmissionError';
  override readonly code = 'room_admission_refused';
  constructor(
    readonly reason: AdmissionErrorReason,
    message: string,
  ) {
    super(message);
  }
}
