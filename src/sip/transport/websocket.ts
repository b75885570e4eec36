import http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Destination, HostPort, Source } from './types.js';
import { TransportError } from './types.js';
import type { Deliver } from './udp.js';

export interface WebSocketOptions {
  protocol: 'ws' | 'wss';
  address: string;
  port: number;
  maxBytes: number;
  tls?: tls.TlsOptions;
  onFlowClosed: (flowId: string) => void;
}

/**
 * SIP over WebSocket (RFC 7118) for browser SIP clients: one SIP message per WebSocket
 * message, subprotocol "sip". Browsers cannot be connected to, so every request towards a
 * WebSocket client must ride on the flow it registered over.
 */
export class WebSocketListener {
  readonly protocol: 'ws' | 'wss';
  local: HostPort = { address: '', port: 0 };
  private httpServer: http.Server | https.Server;
  private wss: WebSocketServer;
  private conns = new Map<string, { ws: WebSocket; source: Source }>();
  private seq = 0;

  private constructor(opts: WebSocketOptions, deliver: Deliver) {
    this.protocol = opts.protocol;
    const reject = (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('SIP over WebSocket only (RFC 7118)\n');
    };
    this.httpServer = opts.protocol === 'wss' ? https.createServer(opts.tls!, reject) : http.createServer(reject);
    this.httpServer.on('tlsClientError', () => {});
    this.wss = new WebSocketServer({
      server: this.httpServer,
      maxPayload: opts.maxBytes,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    this.wss.on('connection', (ws, req) => {
      const remote = { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 };
      const flowId = `${this.protocol}:${this.local.address}:${this.local.port}#${++this.seq}/${remote.address}:${remote.port}`;
      const source: Source = { protocol: this.protocol, remote, local: this.local, flowId };
      this.conns.set(flowId, { ws, source });
      ws.on('message', (data, isBinary) => {
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        // A lone CRLF keep-alive is answered by nothing: WebSocket has its own ping.
        if (!isBinary && buf.toString('latin1').trim() === '') return;
        deliver(buf, source);
      });
      ws.on('error', () => {});
      ws.on('close', () => {
        this.conns.delete(flowId);
        opts.onFlowClosed(flowId);
      });
    });
  }

  /** New certificate and key for connections accepted from now on (WSS only). */
  setServerTls(server: tls.TlsOptions): void {
    if (this.httpServer instanceof https.Server) this.httpServer.setSecureContext(server);
  }

  static async listen(opts: WebSocketOptions, deliver: Deliver): Promise<WebSocketListener> {
    const l = new WebSocketListener(opts, deliver);
    await new Promise<void>((resolve, reject) => {
      l.httpServer.once('error', reject);
      l.httpServer.listen(opts.port, opts.address, () => {
        l.httpServer.off('error', reject);
        resolve();
      });
    });
    const a = l.httpServer.address() as import('node:net').AddressInfo;
    l.local = { address: a.address, port: a.port };
    return l;
  }

  ownsFlow(flowId: string): boolean {
    return this.conns.has(flowId);
  }

  async send(dest: Destination, data: Buffer): Promise<Source> {
    const conn = dest.flowId ? this.conns.get(dest.flowId) : undefined;
    const c =
      conn ??
      [...this.conns.values()].find((x) => x.source.remote.address === dest.address && x.source.remote.port === dest.port);
    if (!c) throw new TransportError(`no WebSocket connection to ${dest.address}:${dest.port}`, 'no-flow');
    await new Promise<void>((resolve, reject) =>
      c.ws.send(data.toString('utf8'), (err) =>
        err ? reject(new TransportError(`websocket send failed: ${err.message}`, 'send-failed')) : resolve(),
      ),
    );
    return c.source;
  }

  async close(): Promise<void> {
    for (const c of this.conns.values()) c.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
  }
}
