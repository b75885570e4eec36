import type tls from 'node:tls';
import type { ListenSpec } from '../../config/schema.js';
import { StreamListener } from './stream.js';
import type { Destination, HostPort, Protocol, Source } from './types.js';
import { TransportError } from './types.js';
import { UdpListener } from './udp.js';
import { WebSocketListener } from './websocket.js';

type Listener = UdpListener | StreamListener | WebSocketListener;

export interface TransportLayerOptions {
  maxMessageBytes: number;
  idleMs: number;
  tls?: { server: tls.TlsOptions; client: tls.ConnectionOptions };
}

/** All SIP listeners of the node; picks the socket or connection for each outgoing message. */
export class TransportLayer {
  private listeners: Listener[] = [];
  onMessage: (data: Buffer, source: Source) => void = () => {};
  onFlowClosed: (flowId: string) => void = () => {};

  constructor(private readonly opts: TransportLayerOptions) {}

  async listen(specs: ListenSpec[]): Promise<void> {
    const deliver = (data: Buffer, source: Source) => this.onMessage(data, source);
    const onFlowClosed = (flowId: string) => this.onFlowClosed(flowId);
    for (const s of specs) {
      const needsTls = s.transport === 'tls' || s.transport === 'wss';
      if (needsTls && !this.opts.tls) throw new TransportError(`${s.transport} listener needs a TLS certificate`, 'no-listener');
      let l: Listener;
      if (s.transport === 'udp') l = await UdpListener.bind(s.address, s.port, this.opts.maxMessageBytes, deliver);
      else if (s.transport === 'tcp' || s.transport === 'tls')
        l = await StreamListener.listen(
          { protocol: s.transport, address: s.address, port: s.port, maxBytes: this.opts.maxMessageBytes, idleMs: this.opts.idleMs, tls: this.opts.tls, onFlowClosed },
          deliver,
        );
      else
        l = await WebSocketListener.listen(
          { protocol: s.transport, address: s.address, port: s.port, maxBytes: this.opts.maxMessageBytes, tls: this.opts.tls?.server, onFlowClosed },
          deliver,
        );
      this.listeners.push(l);
    }
  }

  /**
   * A renewed certificate for the TLS and WSS listeners: new connections get it, open ones
   * (and the calls on them) go on with the old one.
   */
  setServerTls(server: tls.TlsOptions): void {
    if (this.opts.tls) this.opts.tls.server = server;
    for (const l of this.listeners) if (l.protocol === 'tls' || l.protocol === 'wss') (l as StreamListener | WebSocketListener).setServerTls(server);
  }

  /** The bound address of the first listener of a protocol (for Via, Contact, Record-Route). */
  local(protocol: Protocol): HostPort | undefined {
    return this.listeners.find((l) => l.protocol === protocol)?.local;
  }

  protocols(): Array<{ protocol: Protocol; local: HostPort }> {
    return this.listeners.map((l) => ({ protocol: l.protocol, local: l.local }));
  }

  async send(dest: Destination, data: Buffer): Promise<Source> {
    if (dest.flowId) {
      const owner = this.listeners.find((l) => l.ownsFlow(dest.flowId!));
      if (owner) return owner.send(dest, data);
      if (dest.protocol === 'ws' || dest.protocol === 'wss') {
        throw new TransportError(`the WebSocket flow to ${dest.address}:${dest.port} is gone`, 'no-flow');
      }
    }
    const l = this.listeners.find((x) => x.protocol === dest.protocol);
    if (!l) throw new TransportError(`no ${dest.protocol} listener to send from`, 'no-listener');
    return l.send(dest, data);
  }

  async close(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.close()));
    this.listeners = [];
  }
}
