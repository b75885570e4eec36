/**
 * Typed errors of the meeting rooms. Each carries a stable `code` so the API layer can map it
 * to HTTP problem+json (invalid → 400, not found → 404, conflict → 409) and signalling to a
 * reason for the browser, without parsing messages. Messages are one sentence for the operator
 * or, for admission refusals, for the person trying to join.
 */
export class RoomError extends Error {
  override name = 'RoomError';
  readonly code: string = 'room_error';
}

/** A room value is malformed on its own: bad id, name, PIN, validity window, branding. */
export class InvalidRoomError extends RoomError {
  override name = 'InvalidRoomError';
  override readonly code = 'room_invalid';
}

export class RoomNotFoundError extends RoomError {
  override name = 'RoomNotFoundError';
  override readonly code = 'room_not_found';
}

/** A room with that id exists already. (Alias conflicts come from the dial plan, unchanged.) */
export class RoomConflictError extends RoomError {
  override name = 'RoomConflictError';
  override readonly code = 'room_conflict';
}
