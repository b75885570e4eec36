import net from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { FrameReader, newMessageId, parseControlMessage, sendFrame, type ControlMessage } from './wire.js';

/** One connected drachtio-srf application. */
export class AppConnection {
  authenticated = false;
  readonly verbs = new Set<string>();
  readonly tags = new Set<string>();
  closed = false;

  constructor(readonly id: string, readonly socket: net.Socket) {}

  send(payload: string): void {
    if (!this.closed) sendFrame(this.socket, `${newMessageId()}|${payload}`);
  }

  reply(rid: string, ...tokens: string[]): void {
    this.send(`response|${rid}|${tokens.join('|')}`);
  }

  /** A reply carrying a SIP message after the leader line. */
  replyWithSip(rid: string, tokens: string[], sip: Buffer | string): void {
    this.send(`response|${rid}|${tokens.join('|')}\r\n${typeof sip === 'string' ? sip : sip.toString('utf8')}`);
  }
}

export interface ControlHandlers {
  /** A `sip` command from an authenticated application. */
  onSip(app: AppConnection, msg: ControlMessage): void;
  onProxy(app: AppConnection, msg: ControlMessage): void;
  onClose(app: AppConnection): void;
}

/**
 * The drachtio control port: applications (drachtio-srf) connect here, authenticate with the
 * shared secret, register the SIP methods they want (route), and exchange SIP messages.
 */
export class ControlServer {
  private server: net.Server;
  private apps = new Map<string, AppConnection>();
  private rr = new Map<string, number>();
  private seq = 0;

  constructor(
    private readonly secret: string,
    private readonly hostports: () => { hostports: string; local: string },
    private readonly handlers: ControlHandlers,
    private readonly log: Logger,
    private readonly version = 'v0.9.4-knude',
  ) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  async listen(address: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, address, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Round robin over the applications that routed this method (lower case, as srf sends it). */
  select(method: string): AppConnection | undefined {
    const verb = method.toLowerCase();
    const candidates = [...this.apps.values()].filter((a) => a.authenticated && !a.closed && a.verbs.has(verb));
    if (candidates.length === 0) return undefined;
    const n = (this.rr.get(verb) ?? 0) % candidates.length;
    this.rr.set(verb, n + 1);
    return candidates[n];
  }

  get(id: string): AppConnection | undefined {
    const a = this.apps.get(id);
    return a && !a.closed ? a : undefined;
  }

  get connectedCount(): number {
    return [...this.apps.values()].filter((a) => a.authenticated).length;
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    const app = new AppConnection(`app-${++this.seq}`, socket);
    this.apps.set(app.id, app);
    const reader = new FrameReader();
    socket.on('data', (chunk) => {
      let frames: string[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        this.log.warn({ app: app.id, err: (err as Error).message }, 'closing control connection: bad framing');
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        try {
          this.dispatch(app, parseControlMessage(frame));
        } catch (err) {
          this.log.error({ app: app.id, err }, 'control message failed');
        }
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      app.closed = true;
      this.apps.delete(app.id);
      this.handlers.onClose(app);
    });
  }

  private checkSecret(given: string): boolean {
    const a = Buffer.from(given);
    const b = Buffer.from(this.secret);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private dispatch(app: AppConnection, msg: ControlMessage): void {
    const { msgId, type, args } = msg;
    if (type === 'authenticate') {
      if (!this.checkSecret(args[0] ?? '')) {
        app.reply(msgId, 'NO', 'incorrect secret');
        app.socket.end();
        return;
      }
      for (const t of (args[1] ?? '').split(',')) if (t) app.tags.add(t);
      app.authenticated = true;
      const hp = this.hostports();
      app.reply(msgId, 'OK', hp.hostports, this.version, hp.local);
      return;
    }
    if (!app.authenticated) {
      // The C++ server tolerates this; we do not let an unauthenticated peer send SIP.
      app.reply(msgId, 'NO', 'not authenticated');
      app.socket.end();
      return;
    }
    switch (type) {
      case 'ping':
        return app.reply(msgId, 'OK', 'pong');
      case 'route':
        app.verbs.add((args[0] ?? '').toLowerCase());
        return app.reply(msgId, 'OK');
      case 'remove_route':
        app.verbs.delete((args[0] ?? '').toLowerCase());
        return app.reply(msgId, 'OK');
      case 'sip':
        return this.handlers.onSip(app, msg);
      case 'proxy':
        return this.handlers.onProxy(app, msg);
      default:
        app.reply(msgId, 'NO', 'Unknown message type');
        app.socket.end();
    }
  }

  async close(): Promise<void> {
    for (const a of this.apps.values()) a.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
