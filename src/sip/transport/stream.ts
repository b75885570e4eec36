import net from 'node:net';
import tls from 'node:tls';
import { StreamFramer } from '../message/index.js';
import type { Destination, HostPort, Source } from './types.js';
import { TransportError } from './types.js';
import type { Deliver } from './udp.js';

export interface StreamOptions {
  protocol: 'tcp' | 'tls';
  address: string;
  port: number;
  maxBytes: number;
  /** Connections silent for this long are closed (longer than the longest registration). */
  idleMs: number;
  tls?: { server: tls.TlsOptions; client: tls.ConnectionOptions };
  onFlowClosed: (flowId: string) => void;
}

interface Conn {
  socket: net.Socket;
  source: Source;
}

/** A TCP or TLS listener and every connection it accepted or opened (RFC 3261 18.3). */
export class StreamListener {
  readonly protocol: 'tcp' | 'tls';
  local: HostPort = { address: '', port: 0 };
  private server: net.Server;
  private conns = new Map<string, Conn>();
  private byRemote = new Map<string, string>();
  private connecting = new Map<string, Promise<Conn>>();
  private seq = 0;

  private constructor(private readonly opts: StreamOptions, private readonly deliver: Deliver) {
    this.protocol = opts.protocol;
    const onSocket = (socket: net.Socket) => this.adopt(socket);
    this.server =
      opts.protocol === 'tls'
        ? tls.createServer(opts.tls!.server, onSocket)
        : net.createServer(onSocket);
    // A failed TLS handshake (a scanner, a wrong certificate) must not take the listener down.
    this.server.on('tlsClientError', () => {});
  }

  /** New certificate and key for connections accepted from now on (open ones keep theirs). */
  setServerTls(server: tls.TlsOptions): void {
    if (this.server instanceof tls.Server) this.server.setSecureContext(server);
  }

  static async listen(opts: StreamOptions, deliver: Deliver): Promise<StreamListener> {
    const l = new StreamListener(opts, deliver);
    await new Promise<void>((resolve, reject) => {
      l.server.once('error', reject);
      l.server.listen(opts.port, opts.address, () => {
        l.server.off('error', reject);
        resolve();
      });
    });
    const a = l.server.address() as net.AddressInfo;
    l.local = { address: a.address, port: a.port };
    return l;
  }

  private adopt(socket: net.Socket): Conn {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.setTimeout(this.opts.idleMs);
    const remote = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    const flowId = `${this.protocol}:${this.local.address}:${this.local.port}#${++this.seq}/${remote.address}:${remote.port}`;
    const conn: Conn = { socket, source: { protocol: this.protocol, remote, local: this.local, flowId } };
    this.conns.set(flowId, conn);
    this.byRemote.set(`${remote.address}:${remote.port}`, flowId);
    const framer = new StreamFramer({ maxMessageSize: this.opts.maxBytes });
    socket.on('data', (chunk: Buffer) => {
      for (const item of framer.push(chunk)) {
        if ('message' in item) this.deliver(item.message, conn.source);
        else if ('keepalive' in item) {
          // RFC 5626 4.4.1: answer a double-CRLF ping with a single-CRLF pong.
          if (item.keepalive === 'ping') socket.write('\r\n');
        } else {
          // The stream cannot be re-synchronised after a framing error: drop the connection.
          socket.destroy();
          return;
        }
      }
    });
    socket.on('timeout', () => socket.destroy());
    socket.on('error', () => {});
    socket.on('close', () => {
      this.conns.delete(flowId);
      const key = `${remote.address}:${remote.port}`;
      if (this.byRemote.get(key) === flowId) this.byRemote.delete(key);
      this.opts.onFlowClosed(flowId);
    });
    return conn;
  }

  ownsFlow(flowId: string): boolean {
    return this.conns.has(flowId);
  }

  private async connectTo(address: string, port: number): Promise<Conn> {
    const key = `${address}:${port}`;
    const pending = this.connecting.get(key);
    if (pending) return pending;
    const p = new Promise<Conn>((resolve, reject) => {
      const socket =
        this.protocol === 'tls'
          ? tls.connect({ ...this.opts.tls!.client, host: address, port, servername: net.isIP(address) ? undefined : address })
          : net.connect({ host: address, port });
      const ready = this.protocol === 'tls' ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => socket.destroy(new Error('connect timed out')), 5_000);
      socket.once(ready, () => {
        clearTimeout(timer);
        resolve(this.adopt(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new TransportError(`${this.protocol} connect to ${key} failed: ${err.message}`, 'connect-failed'));
      });
    });
    this.connecting.set(key, p);
    try {
      return await p;
    } finally {
      this.connecting.delete(key);
    }
  }

  async send(dest: Destination, data: Buffer): Promise<Source> {
    let conn = dest.flowId ? this.conns.get(dest.flowId) : undefined;
    if (!conn) {
      const existing = this.byRemote.get(`${dest.address}:${dest.port}`);
      conn = existing ? this.conns.get(existing) : undefined;
    }
    conn ??= await this.connectTo(dest.address, dest.port);
    const c = conn;
    await new Promise<void>((resolve, reject) =>
      c.socket.write(data, (err) =>
        err ? reject(new TransportError(`${this.protocol} send failed: ${err.message}`, 'send-failed')) : resolve(),
      ),
    );
    return c.source;
  }

  async close(): Promise<void> {
    for (const c of this.conns.values()) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
