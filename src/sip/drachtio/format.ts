import type { Protocol } from '../transport/types.js';

/** drachtio reports WebSocket flows as tcp (the C++ server does the same). */
export function wireProtocol(p: Protocol): string {
  return p === 'udp' ? 'udp' : p === 'tls' || p === 'wss' ? 'tls' : 'tcp';
}

/** UTC time of day with microseconds, HH:MM:SS.uuuuuu, as drachtio-server stamps messages. */
export function stackTime(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds() * 1000, 6)}`;
}

/** The six-token <meta> block: source|bytes|protocol|address|port|time. */
export function meta(source: 'network' | 'application', bytes: number, protocol: Protocol, address: string, port: number): string {
  return `${source}|${bytes}|${wireProtocol(protocol)}|${address}|${port}|${stackTime()}`;
}
