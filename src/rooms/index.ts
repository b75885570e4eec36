/** Public surface of the meeting rooms capability. */
export * from './errors.js';
export { roomsMigrations } from './migrations.js';
export {
  RoomStore,
  slugify,
  checkRoomId,
  checkBranding,
  ROOM_ID_RE,
  DEFAULT_MAX_PARTICIPANTS,
  MIN_PARTICIPANTS,
  MAX_PARTICIPANTS,
  type Room,
  type RoomKind,
  type RoomBranding,
  type RoomInput,
  type RoomPatch,
} from './store.js';
export { HashedPin, hashPin, pinMatches, pinMatchesSync, pinRole, checkPin, PIN_RE } from './pins.js';
export {
  admit,
  formatTime,
  ADMISSION_MESSAGES,
  AdmissionError,
  type AdmissionDecision,
  type AdmissionErrorReason,
  type AdmissionRefusal,
  type AdmissionRequest,
  type AdmissionRoom,
} from './admission.js';
export {
  RoomManager,
  MediaUnavailableError,
  type MediaPlane,
  type MediaRoomSpec,
  type JoinRequest,
  type Participant,
  type ParticipantKind,
  type ParticipantRole,
  type ParticipantEventBase,
  type ParticipantJoinedEvent,
  type ParticipantLeftEvent,
  type LobbyReleasedEvent,
  type RoomOpenedEvent,
  type RoomClosedEvent,
  type MediaRestartedEvent,
  type RoomManagerEvents,
  type RoomsSnapshot,
  type RoomLog,
} from './manager.js';
export { PinGuard, type PinGuardOptions } from './pin-guard.js';
