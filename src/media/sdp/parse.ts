/**
 * Reading an SDP body from the network. sdp-transform never fails (anything it does not
 * recognise is silently dropped), so the structure that security depends on — the line
 * syntax, the m-lines, their ports and connection addresses — is checked here first, and the
 * a=crypto lines are kept as written for crypto-attr.ts to read.
 */
import sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { SdpError } from './errors.js';

/** Far above any real offer (a Cisco room system with content and FECC is ~3 KB). */
export const MAX_SDP_LENGTH = 64 * 1024;

export interface ParsedSdp {
  session: SessionDescription;
  /** Per m-line, in order: its raw a=crypto values (after `a=crypto:`). */
  crypto: string[][];
}

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export function parseSdp(text: unknown): ParsedSdp {
  if (typeof text !== 'string' || text.trim() === '') throw new SdpError('malformed-sdp', 'SDP body is empty');
  if (text.length > MAX_SDP_LENGTH) throw new SdpError('malformed-sdp', `SDP body is ${text.length} bytes, more than ${MAX_SDP_LENGTH}`);
  const lines = text.split(/\r\n|\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines[0] !== 'v=0') throw new SdpError('malformed-sdp', 'SDP must start with v=0');
  const crypto: string[][] = [];
  let sessionConnection = false;
  let mediaConnection = true;
  let origin = false;
  let name = false;
  const checkConnection = (): void => {
    if (!sessionConnection && !mediaConnection) throw new SdpError('malformed-sdp', `m-line ${crypto.length - 1} has no c= line and the session has none`);
  };
  lines.forEach((line, i) => {
    const where = `line ${i + 1}`;
    // sdp-transform splits on a bare CR too: one line for us and two for it would let an m-line
    // hide inside an attribute.
    if (line.includes('\r')) throw new SdpError('malformed-sdp', `${where} contains a bare CR`);
    if (!/^[a-z]=/.test(line)) throw new SdpError('malformed-sdp', `${where} is not <type>=<value>: "${line.slice(0, 40)}"`);
    const type = line[0];
    const value = line.slice(2);
    if (type === 'o') {
      if (value.split(' ').length !== 6) throw new SdpError('malformed-sdp', `${where}: o= needs 6 fields`);
      origin = true;
    } else if (type === 's') name = true;
    else if (type === 'c') {
      if (!/^IN IP[46] [0-9A-Za-z.:\-/]+$/.test(value)) throw new SdpError('malformed-sdp', `${where}: c= must be "IN IP4|IP6 <address>", got "${value.slice(0, 60)}"`);
      if (crypto.length === 0) sessionConnection = true;
      else mediaConnection = true;
    } else if (type === 'm') {
      if (crypto.length > 0) checkConnection();
      const m = /^([a-z]+) (\d{1,5})(?:\/\d+)? ([A-Za-z0-9_/]+) (\S.*)$/i.exec(value);
      if (!m || Number(m[2]) > 65535) throw new SdpError('malformed-sdp', `${where}: m= must be "<media> <port> <proto> <fmt> ...", got "${value.slice(0, 60)}"`);
      crypto.push([]);
      mediaConnection = Number(m[2]) === 0; // a rejected m-line needs no address
    } else if (type === 'a' && crypto.length > 0 && value.startsWith('crypto:')) {
      crypto[crypto.length - 1].push(value.slice('crypto:'.length));
    }
  });
  if (!origin) throw new SdpError('malformed-sdp', 'SDP has no o= line');
  if (!name) throw new SdpError('malformed-sdp', 'SDP has no s= line');
  if (crypto.length === 0) throw new SdpError('malformed-sdp', 'SDP has no m= line');
  checkConnection();
  const session = sdpTransform.parse(lines.join('\r\n') + '\r\n');
  if (session.media.length !== crypto.length) throw new SdpError('malformed-sdp', 'SDP m-lines could not be read consistently');
  return { session, crypto };
}

/** Where the remote sends from and expects media: media-level c= first, then session-level. */
export function connectionAddress(session: SessionDescription, media: MediaDescription): string {
  return (media.connection ?? session.connection)?.ip.split('/')[0] ?? '';
}

/** The media direction, media-level attribute first, then session-level (RFC 3264 §5.1). */
export function directionOf(session: SessionDescription, media: MediaDescription): Direction {
  return media.direction ?? session.direction ?? 'sendrecv';
}

export function payloadList(media: MediaDescription): string[] {
  return String(media.payloads ?? '')
    .split(' ')
    .filter((p) => p !== '');
}

export function isRtpProtocol(protocol: string): boolean {
  return /(^|\/)RTP\/(S)?AVPF?$/i.test(protocol);
}

export function isSecureRtpProtocol(protocol: string): boolean {
  return /(^|\/)RTP\/SAVPF?$/i.test(protocol);
}

export function isDtlsProtocol(protocol: string): boolean {
  return /^(UDP|TCP)\/TLS\/RTP\/SAVPF?$/i.test(protocol);
}
