import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A test host for WebRTC: a network namespace joined to this host by a veth pair. Janus skips
 * loopback when gathering ICE candidates, so browsers run inside the namespace (their only
 * address is `peerAddress`) and Janus binds the host end (`hostAddress`, interface `hostIf`).
 * All traffic stays on this veth pair. Needs root (CI runs as root) and iproute2.
 */
export interface TestNetwork {
  ns: string;
  hostIf: string;
  hostAddress: string;
  peerAddress: string;
  /** An executable that runs Chromium inside the namespace (for playwright's executablePath). */
  chromium: string;
  close(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

export function netnsAvailable(): string | undefined {
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' });
  } catch (err) {
    return `ip netns unavailable: ${(err as Error).message.split('\n')[0]}`;
  }
  if (process.getuid && process.getuid() !== 0) return 'network namespaces need root';
  return undefined;
}

export function createTestNetwork(): TestNetwork {
  // Unique per process; a /30 in 10.231.0.0/16 chosen from the pid.
  const id = process.pid % 16000;
  const ns = `knude-t${id}`;
  const hostIf = `kvh${id}`;
  const peerIf = `kvp${id}`;
  const net = `10.231.${Math.floor(id / 64) % 250}.${(id % 64) * 4}`;
  const [a, b, c, d] = net.split('.').map(Number);
  const hostAddress = `${a}.${b}.${c}.${d + 1}`;
  const peerAddress = `${a}.${b}.${c}.${d + 2}`;
  cleanup(ns, hostIf);
  ip('netns', 'add', ns);
  ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peerIf);
  ip('link', 'set', peerIf, 'netns', ns);
  ip('addr', 'add', `${hostAddress}/30`, 'dev', hostIf);
  ip('link', 'set', hostIf, 'up');
  ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${peerAddress}/30`, 'dev', peerIf);
  ip('netns', 'exec', ns, 'ip', 'link', 'set', peerIf, 'up');
  ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  const dir = mkdtempSync(join(tmpdir(), 'knude-netns-'));
  const chromium = join(dir, 'chromium-in-netns');
  writeFileSync(chromium, `#!/bin/sh\nexec ip netns exec ${ns} /usr/bin/chromium "$@"\n`);
  chmodSync(chromium, 0o755);
  return {
    ns,
    hostIf,
    hostAddress,
    peerAddress,
    chromium,
    close() {
      cleanup(ns, hostIf);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function cleanup(ns: string, hostIf: string): void {
  try {
    ip('link', 'del', hostIf); // deletes the peer end too
  } catch {
    /* not there */
  }
  try {
    ip('netns', 'del', ns);
  } catch {
    /* not there */
  }
}
