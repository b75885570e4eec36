import type { Protocol } from '../transport/types.js';

/**
 * The transport named to applications. drachtio-server says tcp for WebSocket flows; we name
 * ws/wss so the application can address a browser's flow (srf passes the string through).
 */
export function wireProtocol(p: Protocol): string {
  return p;
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
