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
  /** One SIP endpoint (via knude's SRTP relay): an AudioBridge plain-RTP participant and a VideoRoom remote publisher. */
  joinSip(roomId: string, displayName: string, spec: SipLegSpec): Promise<SipMediaLeg>;
  /** The room's video tap (one per room; a second call with the same target returns the same tap). */
  videoTap(roomId: string, target: VideoTapTarget): Promise<VideoTap>;
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

/**
 * A SIP endpoint's media as Janus takes it: plain RTP on loopback from knude's SRTP relay.
 * The relay decrypts what the endpoint sends and forwards it to the targets below; it
 * encrypts what Janus sends to `relayPort` (the room's mix without the endpoint) back to it.
 */
export interface SipLegSpec {
  audio: {
    codec: 'opus' | 'PCMU' | 'PCMA';
    /** The payload type negotiated with the endpoint (Opus; G.711 uses 0/8). */
    payloadType: number;
    /**
     * Where the relay listens for the room's mixed audio. Janus connects its socket to this
     * port, so the relay must also *send* the endpoint's audio from this port.
     */
    relayPort: number;
    /** RFC 6464 client-to-mixer audio level extension id, when the relay adds/keeps it. */
    audioLevelExtId?: number;
  };
  /**
   * The endpoint's video. Janus 1.1.2 takes any payload type in (subscribers get its own:
   * VP8 96, H.264 107) and cannot be told the H.264 profile (its add_remote_publisher
   * validates h264_profile as a boolean), so h264ProfileLevelId/packetizationMode are
   * informational: browsers are offered the H.264 stream without an fmtp line (the room's
   * h264_profile, if one were set at create, would be used instead).
   */
  video?: { codec: 'H264' | 'VP8'; payloadType: number; h264ProfileLevelId?: string; packetizationMode?: 0 | 1 };
}

/** A loopback RTP destination inside Janus. */
export interface RtpTarget {
  host: string;
  port: number;
  /** Where Janus expects RTCP for this target; send something here first (Janus latches the source). */
  rtcpPort?: number;
  /** The SSRC packets must carry here (remote publishers demultiplex by SSRC = 1000 + 10 * mindex). */
  ssrc: number;
}

export interface SipMediaLeg {
  /** The VideoRoom feed id of the remote publisher (for speaker mapping). */
  readonly feedId: number;
  /** Send the endpoint's decrypted audio here (AudioBridge), from `relayPort`. */
  readonly audioTarget: { host: string; port: number };
  /**
   * Send the endpoint's decrypted audio here as well (the remote publisher's audio stream):
   * browsers hear the endpoint through the VideoRoom, and the VideoRoom's talking events
   * (with the RFC 6464 extension) cover SIP feeds too. Same port as videoTarget.
   */
  readonly publisherAudioTarget: RtpTarget;
  /** Send the endpoint's decrypted video here (remote publisher); PLIs for it come back to the latched RTCP source. */
  readonly videoTarget?: RtpTarget;
  setMuted(muted: boolean): Promise<void>;
  /**
   * talking/stopped-talking: {feedId, talking, level} from the VideoRoom (needs the RFC 6464
   * extension on publisherAudioTarget; Janus 1.1.2's AudioBridge ignores it on plain RTP);
   * hangup: {reason}.
   */
  on(event: 'talking' | 'stopped-talking' | 'hangup', fn: (data?: unknown) => void): void;
  /** Removes the remote publisher and the AudioBridge participant (idempotent). */
  leave(): Promise<void>;
}

/** Where a room's video tap sends: one fixed loopback port for the room's life. */
export interface VideoTapTarget {
  host: string;
  port: number;
  /** The relay's RTCP port: Janus sends two empty latching packets from each forwarder's RTCP socket here. */
  rtcpPort?: number;
}

export interface VideoTapStream {
  feedId: number;
  /** The SSRC the tap's packets for this feed carry (chosen by the tap, distinct per feed). */
  ssrc: number;
  display: string;
  payloadType: number;
  /** Janus's codec name (vp8, h264, ...). */
  codec: string;
  /** Janus's RTCP port of this feed's forwarder: a PLI/FIR sent to host:rtcpPort asks the publisher for a keyframe. */
  rtcpPort?: number;
}

export interface VideoTapTalking {
  feedId: number;
  talking: boolean;
  /** Average audio level in -dBov (0 loud .. 127 silent), as Janus measured it. */
  level?: number;
}

/** Every video publisher of a room forwarded as plain RTP to one port, for the SIP endpoints' voice-switched video. */
export interface VideoTap {
  readonly target: VideoTapTarget;
  readonly streams: VideoTapStream[];
  on(event: 'streams', fn: (list: VideoTapStream[]) => void): void;
  on(event: 'talking', fn: (e: VideoTapTalking) => void): void;
  on(event: 'hangup', fn: (e: { reason: string }) => void): void;
  /** Stops all its forwarders (idempotent). */
  close(): Promise<void>;
}
