import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import type { KnudeConfig } from '../../src/config/schema.js';
import { startNode, type KnudeNode } from '../../src/node.js';
import { freePort } from '../helpers/ports.js';

/**
 * A real drachtio-server to run the SIP suites against as well, from
 * KNUDE_TEST_DRACHTIO=host:port:secret (e.g. the one in docker/compose.yaml); undefined when unset.
 */
export function realDrachtio(): { host: string; port: number; secret: string } | undefined {
  const spec = process.env.KNUDE_TEST_DRACHTIO;
  if (!spec) return undefined;
  const [host, port, ...secret] = spec.split(':');
  return { host, port: Number(port), secret: secret.join(':') };
}

export interface TestNode {
  node: KnudeNode;
  config: KnudeConfig;
  dataDir: string;
  /** host:port of the UDP and TCP listener (the drachtio-server's, in that variant). */
  sip: string;
  ports: { sip: number; tls: number; ws: number; wss: number };
  logFile: string;
  addAccount(org: string, user: string, password: string, aliases?: string[]): void;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/**
 * A knude node in this process on fresh loopback ports and a throwaway data directory.
 * Its log goes to a file in that directory (kept when a test wants to look at it).
 * MD5 is offered first because SIPp 3.6 only answers the first challenge and only does MD5.
 */
function drachtioSip(node: KnudeNode): string {
  const udp = node.sipListeners.find((l) => l.protocol === 'udp') ?? node.sipListeners[0];
  return `${udp.address}:${udp.port}`;
}

export async function startKnude(
  opts: { dataDir?: string; overrides?: Record<string, unknown>; ports?: TestNode['ports']; server?: 'embedded' | 'drachtio' } = {},
): Promise<TestNode> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'knude-test-'));
  const ports = opts.ports ?? { sip: await freePort('both'), tls: await freePort('tcp'), ws: await freePort('tcp'), wss: await freePort('tcp') };
  // A test may rename the node; its data always goes to the throwaway directory.
  const { node: nodeOverride, calls: callsOverride, ...overrides } = (opts.overrides ?? {}) as { node?: Record<string, unknown>; calls?: Record<string, unknown> } & Record<string, unknown>;
  const config = loadConfig({
    overrides: {
      node: { name: 'knude-test', ...nodeOverride, dataDir },
      log: { level: 'debug', format: 'json' },
      sip: {
        listen: [
          { transport: 'udp', address: '127.0.0.1', port: ports.sip },
          { transport: 'tcp', address: '127.0.0.1', port: ports.sip },
          { transport: 'tls', address: '127.0.0.1', port: ports.tls },
          { transport: 'ws', address: '127.0.0.1', port: ports.ws },
          { transport: 'wss', address: '127.0.0.1', port: ports.wss },
        ],
        embedded: { controlAddress: '127.0.0.1', controlPort: 0, secret: '' },
        ...(opts.server === 'drachtio' ? { server: 'drachtio', drachtio: realDrachtio() } : {}),
      },
      registrar: { algorithms: ['MD5', 'SHA-256'] },
      // The signalling suites bridge SIPp's plain RTP/AVP offers; the SRTP policy for bridged
      // calls has its own tests (test/integration/bridged-srtp.test.ts).
      calls: { requireSrtp: false, ...callsOverride },
      // Janus only for the suites that need rooms: it costs a process and a second of start-up.
      media: { janus: 'off' },
      // The API (TLS, its own port) and the gatekeeper only for the suites that test them.
      api: { enabled: false },
      h323: { enabled: false },
      http: { address: '127.0.0.1', port: 0 },
      ...overrides,
    },
  });
  const logFile = join(dataDir, 'knude.log');
  const log = pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true }));
  const node = await startNode(config, log);
  return {
    node,
    config,
    dataDir,
    sip: opts.server === 'drachtio' ? drachtioSip(node) : `127.0.0.1:${ports.sip}`,
    ports,
    logFile,
    addAccount(org, user, password, aliases = []) {
      if (!node.plan.getOrg(org)) node.plan.createOrg({ name: org });
      node.accounts.add({ org, username: user, password, realm: config.sip.domain });
      for (const a of aliases) node.plan.addAlias({ alias: a, kind: 'account', target: `${user}@${config.sip.domain}`, org });
    },
    async stop(o = {}) {
      await node.stop();
      if (!o.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
