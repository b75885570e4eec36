/**
 * A minimal pcap (libpcap 2.4, LINKTYPE_ETHERNET) writer for RAS datagrams: each record is an
 * Ethernet II + IPv4 + UDP frame around one datagram, so Wireshark and tshark dissect the file
 * as if it were captured on the wire. Used by the tshark conformance test and handy for
 * attaching knude's own RAS traffic to a bug report.
 */
export interface PcapDatagram {
  src: { host: string; port: number };
  dst: { host: string; port: number };
  payload: Uint8Array;
  /** Capture time; records default to one millisecond apart from the epoch of the file. */
  time?: Date;
}

function ipv4(host: string): Buffer {
  const parts = host.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`pcap: "${host}" is not an IPv4 address`);
  return Buffer.from(parts);
}

/** RFC 791 header checksum (one's complement sum of 16-bit words). */
function ipChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function frame(d: PcapDatagram, id: number): Buffer {
  const udpLen = 8 + d.payload.length;
  const eth = Buffer.alloc(14);
  Buffer.from([0x02, 0, 0, 0, 0, 2]).copy(eth, 0); // locally administered MACs
  Buffer.from([0x02, 0, 0, 0, 0, 1]).copy(eth, 6);
  eth.writeUInt16BE(0x0800, 12);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + udpLen, 2);
  ip.writeUInt16BE(id & 0xffff, 4);
  ip[8] = 64;
  ip[9] = 17;
  ipv4(d.src.host).copy(ip, 12);
  ipv4(d.dst.host).copy(ip, 16);
  ip.writeUInt16BE(ipChecksum(ip), 10);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(d.src.port, 0);
  udp.writeUInt16BE(d.dst.port, 2);
  udp.writeUInt16BE(udpLen, 4);
  // UDP checksum 0 = not computed (allowed over IPv4).
  return Buffer.concat([eth, ip, udp, d.payload]);
}

/** The whole pcap file for these datagrams. */
export function writePcap(datagrams: readonly PcapDatagram[]): Buffer {
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeInt32LE(0, 8);
  global.writeUInt32LE(0, 12);
  global.writeUInt32LE(65535, 16);
  global.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  const records: Buffer[] = [global];
  const base = Date.UTC(2026, 0, 1);
  datagrams.forEach((d, i) => {
    const data = frame(d, i + 1);
    const ms = d.time ? d.time.getTime() : base + i;
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(ms / 1000), 0);
    rec.writeUInt32LE((ms % 1000) * 1000, 4);
    rec.writeUInt32LE(data.length, 8);
    rec.writeUInt32LE(data.length, 12);
    records.push(rec, data);
  });
  return Buffer.concat(records);
}
