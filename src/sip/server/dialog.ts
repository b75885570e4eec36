import type { Destination } from '../transport/types.js';

/**
 * Server-side state of one SIP dialog (RFC 3261 12), owned by the application connection that
 * created it. Its id is drachtio's `<Call-ID>;from-tag=<tag of the dialog's initiator>`.
 */
export interface Dialog {
  id: string;
  role: 'uac' | 'uas';
  method: 'INVITE' | 'SUBSCRIBE';
  ownerId: string;
  callId: string;
  localTag: string;
  remoteTag: string;
  /** From (uac) or To (uas) value with our tag, as put on requests we send. */
  localParty: string;
  remoteParty: string;
  localSeq: number;
  remoteSeq: number;
  remoteTarget: string;
  /** Route set in the order requests use it (RFC 3261 12.1.1 / 12.1.2). */
  routeSet: string[];
  localContact: string;
  /** Where in-dialog requests go when the route set is empty: the peer's flow when it is behind NAT. */
  peer: Destination;
  secure: boolean;
  /** UAC: the INVITE CSeq whose 2xx still needs (or got) our ACK, and that ACK for 2xx retransmissions. */
  ackPending: { cseq: number; wire?: Buffer; dest: Destination } | undefined;
  /** UAS: 2xx retransmission until the ACK arrives (RFC 3261 13.3.1.4). */
  answer: { cseq: number; txnId: string; initial: boolean; stop: () => void } | undefined;
  /** Set when a BYE was sent; the dialog goes when its final response arrives. */
  terminating: boolean;
}

export function dialogId(callId: string, initiatorTag: string): string {
  return `${callId};from-tag=${initiatorTag}`;
}

/** Key for matching requests from the network: Call-ID plus our own tag. */
export function localKey(callId: string, localTag: string): string {
  return `${callId}\u0000${localTag}`;
}
