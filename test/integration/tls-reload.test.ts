/**
 * A renewed TLS certificate is taken up without a restart: after reloadCertificates() (what
 * SIGHUP does in `knude start`) new SIP-over-TLS, SIP-over-WSS and API connections get the new
 * certificate, a connection opened before goes on, and a broken file leaves the last good
 * certificate in use.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa } from '../../src/cli/cert.js';
import { freePort } from '../helpers/ports.js';
import { startKnude, type TestNode } from './knude-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'knude-tls-reload-'));

function makeCert(name: string): void {
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
}

function install(name: string): void {
  copyFileSync(join(dir, `${name}.crt`), join(dir, 'current.crt'));
  copyFileSync(join(dir, `${name}.key`), join(dir, 'current.key'));
}

/** The CN of the certificate a fresh TLS connection to the port is shown, and the socket. */
async function presented(port: number): Promise<{ cn: string; socket: tls.TLSSocket }> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  });
  return { cn: String(socket.getPeerCertificate().subject.CN), socket };
}

describe('TLS certificate reload', () => {
  let k: TestNode;
  const sockets: tls.TLSSocket[] = [];

  beforeAll(async () => {
    makeCert('knude-a');
    makeCert('knude-b');
    install('knude-a');
    createCa({ outDir: join(dir, 'ca'), commonName: 'knude test client CA' });
    const ports = { sip: await freePort('both'), tls: await freePort('tcp'), ws: await freePort('tcp'), wss: await freePort('tcp') };
    const certs = { certFile: join(dir, 'current.crt'), keyFile: join(dir, 'current.key') };
    k = await startKnude({
      ports,
      overrides: {
        sip: {
          listen: [
            { transport: 'udp', address: '127.0.0.1', port: ports.sip },
            { transport: 'tls', address: '127.0.0.1', port: ports.tls },
            { transport: 'wss', address: '127.0.0.1', port: ports.wss },
          ],
          embedded: { controlAddress: '127.0.0.1', controlPort: 0, secret: '' },
          tls: { ...certs, minVersion: 'TLSv1.2' },
        },
        api: { enabled: true, port: 0, clientCaFile: join(dir, 'ca', 'ca.crt'), ...certs },
      },
    });
  }, 60_000);

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await k?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives new connections the renewed certificate and keeps the open ones; a broken file changes nothing', async () => {
    const targets = [k.ports.tls, k.ports.wss, k.node.api!.port];
    const before = await Promise.all(targets.map(presented));
    sockets.push(...before.map((p) => p.socket));
    expect(before.map((p) => p.cn)).toEqual(['knude-a', 'knude-a', 'knude-a']);

    install('knude-b');
    k.node.reloadCertificates();
    const after = await Promise.all(targets.map(presented));
    sockets.push(...after.map((p) => p.socket));
    expect(after.map((p) => p.cn)).toEqual(['knude-b', 'knude-b', 'knude-b']);
    expect(before.map((p) => p.socket.destroyed)).toEqual([false, false, false]);

    writeFileSync(join(dir, 'current.key'), 'not a key\n');
    expect(() => k.node.reloadCertificates()).toThrow();
    const still = await Promise.all(targets.map(presented));
    sockets.push(...still.map((p) => p.socket));
    expect(still.map((p) => p.cn)).toEqual(['knude-b', 'knude-b', 'knude-b']);
  });
});

describe('knude start and SIGHUP', () => {
  const BIN = fileURLToPath(new URL('../../bin/knude.js', import.meta.url));
  let child: ChildProcess | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
  });

  it('reloads the certificates on SIGHUP and keeps running', async () => {
    const home = mkdtempSync(join(tmpdir(), 'knude-sighup-'));
    for (const n of ['knude-c', 'knude-d']) {
      const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${n}`, '-keyout', join(home, `${n}.key`), '-out', join(home, `${n}.crt`)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
    }
    const use = (n: string) => {
      copyFileSync(join(home, `${n}.crt`), join(home, 'live.crt'));
      copyFileSync(join(home, `${n}.key`), join(home, 'live.key'));
    };
    use('knude-c');
    const [udp, tlsPort] = [await freePort('both'), await freePort('tcp')];
    const cfg = join(home, 'knude.yaml');
    writeFileSync(
      cfg,
      JSON.stringify({
        node: { name: 'knude-sighup', dataDir: home },
        log: { level: 'info', format: 'json' },
        sip: {
          listen: [
            { transport: 'udp', address: '127.0.0.1', port: udp },
            { transport: 'tls', address: '127.0.0.1', port: tlsPort },
          ],
          embedded: { controlAddress: '127.0.0.1', controlPort: 0, secret: '' },
          tls: { certFile: join(home, 'live.crt'), keyFile: join(home, 'live.key') },
        },
        media: { janus: 'off' },
        api: { enabled: false },
        h323: { enabled: false },
        http: { address: '127.0.0.1', port: 0 },
      }),
    );
    child = spawn('node', [BIN, '--config', cfg, 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const waitFor = (text: string) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no "${text}" from knude:\n${out}`)), 30_000);
        const check = () => {
          if (!out.includes(text)) return;
          clearTimeout(t);
          resolve();
        };
        child!.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          check();
        });
        child!.stderr!.on('data', (d: Buffer) => {
          out += d.toString();
          check();
        });
        check();
      });
    await waitFor('knude started');
    const first = await presented(tlsPort);
    first.socket.destroy();
    expect(first.cn).toBe('knude-c');

    use('knude-d');
    child.kill('SIGHUP');
    await waitFor('TLS certificates reloaded');
    const second = await presented(tlsPort);
    second.socket.destroy();
    expect(second.cn).toBe('knude-d');
    expect(child.exitCode).toBeNull();

    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
    rmSync(home, { recursive: true, force: true });
  }, 60_000);
});
