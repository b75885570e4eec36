import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Destination, HostPort, Source } from './types.js';
import { TransportError } from './types.js';

export type Deliver = (data: Buffer, source: Source) => void;

/** One bound UDP socket. The "flow" of a UDP peer is this socket plus the peer's address. */
export class UdpListener {
  readonly protocol = 'udp' as const;
  private socket: Socket;
  local: HostPort;

  private constructor(socket: Socket, local: HostPort) {
    this.socket = socket;
    this.local = local;
  }

  static async bind(address: string, port: number, maxBytes: number, deliver: Deliver): Promise<UdpListener> {
    const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // Big receive buffers ride out bursts of REGISTERs and retransmissions under load.
    try {
      socket.setRecvBufferSize(4 * 1024 * 1024);
      socket.setSendBufferSize(4 * 1024 * 1024);
    } catch {
      /* the kernel cap applies; not fatal */
    }
    const bound = socket.address();
    const listener = new UdpListener(socket, { address: bound.address, port: bound.port });
    const prefix = `udp:${bound.address}:${bound.port}`;
    socket.on('message', (data, rinfo) => {
      // Oversize datagrams are dropped here: a UDP reply could not carry a 513 reliably anyway.
      if (data.length > maxBytes) return;
      deliver(data, {
        protocol: 'udp',
        remote: { address: rinfo.address, port: rinfo.port },
        local: listener.local,
        flowId: `${prefix}/${rinfo.address}:${rinfo.port}`,
      });
    });
    // ICMP port unreachable and the like surface as errors on a connected path; UDP is best effort.
    socket.on('error', () => {});
    return listener;
  }

  send(dest: Destination, data: Buffer): Promise<Source> {
    return new Promise((resolve, reject) => {
      this.socket.send(data, dest.port, dest.address, (err) => {
        if (err) reject(new TransportError(`udp send to ${dest.address}:${dest.port} failed: ${err.message}`, 'send-failed'));
        else
          resolve({
            protocol: 'udp',
            remote: { address: dest.address, port: dest.port },
            local: this.local,
            flowId: `udp:${this.local.address}:${this.local.port}/${dest.address}:${dest.port}`,
          });
      });
    });
  }

  ownsFlow(flowId: string): boolean {
    return flowId.startsWith(`udp:${this.local.address}:${this.local.port}/`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
