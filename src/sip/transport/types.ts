export type Protocol = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface HostPort {
  address: string;
  port: number;
}

/** Where a message came from, and the flow to answer it on (RFC 3261 18.2.2, RFC 5626). */
export interface Source {
  protocol: Protocol;
  remote: HostPort;
  local: HostPort;
  /** Connection (stream) or socket+peer (UDP) the message arrived on; stable while it lives. */
  flowId: string;
}

export interface Destination {
  protocol: Protocol;
  address: string;
  port: number;
  /** Prefer this existing flow (a registered contact behind NAT, a browser's WebSocket). */
  flowId?: string;
}

export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    message: string,
    readonly code: 'no-listener' | 'no-flow' | 'connect-failed' | 'send-failed' | 'too-large',
  ) {
    super(message);
  }
}

export function isStream(p: Protocol): boolean {
  return p !== 'udp';
}

export function isSecure(p: Protocol): boolean {
  return p === 'tls' || p === 'wss';
}
