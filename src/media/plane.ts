/**
 * The media plane as the rooms layer and the browser signalling see it. Janus implements it
 * (VideoRoom for video, AudioBridge for the SIP endpoints' mixed audio); nothing above this
 * interface knows Janus's API.
 */
export interface RTCIceCandidateInit {
  candidate?: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

export interface MediaRoomSpec {
  /** knude's room id. */
  roomId: string;
  maxParticipants: number;
  description?: string;
}

export interface MediaPlane {
  /** Creates the VideoRoom + AudioBridge pair if absent (idempotent). */
  ensureRoom(spec: MediaRoomSpec): Promise<void>;
  /** Removes participants and remote publishers first, then destroys both rooms. */
  destroyRoom(roomId: string): Promise<void>;
  roomExists(roomId: string): Promise<boolean>;
  /** One browser participant: a publisher handle and one multistream subscriber handle. */
  join(roomId: string, displayName: string): Promise<BrowserLeg>;
  on(event: 'restarted' | 'down', fn: () => void): void;
  close(): Promise<void>;
}

export interface SubscriberOffer {
  type: 'offer';
  sdp: string;
  streams: Array<{ mid: string; feedId: number; display: string; kind: 'audio' | 'video' }>;
}

export interface BrowserLeg {
  readonly feedId: number;
  /** The browser's offer (sendrecv audio+video) -> the media server's answer: it publishes. */
  publish(offer: { type: 'offer'; sdp: string }): Promise<{ type: 'answer'; sdp: string }>;
  /** An offer of the other participants' current streams; undefined when there are none. */
  subscriberOffer(): Promise<SubscriberOffer | undefined>;
  subscriberAnswer(answer: { type: 'answer'; sdp: string }): Promise<void>;
  trickle(target: 'publisher' | 'subscriber', candidate: RTCIceCandidateInit | null): Promise<void>;
  setMuted(kind: 'audio' | 'video', muted: boolean): Promise<void>;
  /** feeds-changed: others came or went, call subscriberOffer again. */
  on(event: 'feeds-changed' | 'talking' | 'stopped-talking' | 'webrtcup' | 'hangup' | 'srtp-profile', fn: (data?: unknown) => void): void;
  leave(): Promise<void>;
}
