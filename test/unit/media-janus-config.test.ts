import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jcfgString, renderJanusConfig, renderJcfg, writeJanusConfig, type JanusConfig } from '../../src/media/janus/config.js';
import { janusRoomId } from '../../src/media/janus/media-plane.js';
import { janusLogLevel } from '../../src/media/janus/process.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'knude-media-unit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A fake Janus library folder with a few plugins and transports. */
function fakeLib(): string {
  const lib = path.join(tmp, 'lib');
  for (const [dir, files] of Object.entries({
    plugins: ['libjanus_videoroom.so', 'libjanus_audiobridge.so', 'libjanus_echotest.so', 'libjanus_sip.so', 'libjanus_sip.so.1'],
    transports: ['libjanus_websockets.so', 'libjanus_http.so'],
    loggers: ['libjanus_jsonlog.so'],
    events: ['libjanus_sampleevh.so'],
  })) {
    mkdirSync(path.join(lib, dir), { recursive: true });
    for (const f of files) writeFileSync(path.join(lib, dir, f), '');
  }
  return lib;
}

const base = (over: Partial<JanusConfig> = {}): JanusConfig => ({
  dataDir: path.join(tmp, 'data'),
  wsPort: 18188,
  adminWsPort: 17188,
  adminSecret: 'admin-secret',
  rtpPortRange: [20000, 20999],
  debugLevel: 4,
  libDir: fakeLib(),
  ...over,
});

describe('Janus configuration', () => {
  it('enables only VideoRoom, AudioBridge and WebSockets, and no logger or event handler', () => {
    const main = renderJanusConfig(base()).files['janus.jcfg'];
    expect(main).toContain('disable = "libjanus_echotest.so,libjanus_sip.so"');
    expect(main).toContain('disable = "libjanus_http.so"');
    expect(main).toContain('disable = "libjanus_jsonlog.so"');
    expect(main).toContain('disable = "libjanus_sampleevh.so"');
    expect(main).not.toMatch(/disable = "[^"]*videoroom/);
    expect(main).not.toMatch(/disable = "[^"]*audiobridge/);
    expect(main).not.toMatch(/disable = "[^"]*websockets/);
  });

  it('writes the core settings: folders, secrets, NAT, RTP range, logging', () => {
    const c = base({ apiSecret: 'api', iceEnforceList: 'veth-knude', nat1to1: '203.0.113.7', interface: '198.51.100.2', sessionTimeout: 30, serverName: 'knude-test', debugLevel: 5 });
    const r = renderJanusConfig(c);
    const main = r.files['janus.jcfg'];
    expect(r.dir).toBe(path.join(c.dataDir, 'janus'));
    expect(main).toContain(`configs_folder = "${r.dir}"`);
    expect(main).toContain(`plugins_folder = "${path.join(c.libDir!, 'plugins')}"`);
    expect(main).toContain('admin_secret = "admin-secret"');
    expect(main).toContain('api_secret = "api"');
    expect(main).toContain('log_to_stdout = true');
    expect(main).toContain('debug_level = 5');
    expect(main).toContain('debug_colors = false');
    expect(main).toContain('session_timeout = 30');
    expect(main).toContain('server_name = "knude-test"');
    expect(main).toContain('interface = "198.51.100.2"');
    expect(main).toContain('rtp_port_range = "20000-20999"');
    expect(main).toContain('ice_enforce_list = "veth-knude"');
    expect(main).toContain('nat_1_1_mapping = "203.0.113.7"');
    expect(main).toContain('keep_private_host = false');
    expect(main).toContain('ignore_mdns = true');
    expect(main).not.toContain('ice_ignore_list');
  });

  it('leaves optional settings out when not given', () => {
    const main = renderJanusConfig(base()).files['janus.jcfg'];
    expect(main).not.toContain('api_secret');
    expect(main).not.toContain('nat_1_1_mapping');
    expect(main).not.toContain('ice_enforce_list');
    expect(main).not.toContain('stun_server');
    expect(main).toContain('ice_ignore_list = "vmnet"');
  });

  it('binds the API and the Admin API to loopback on the given ports', () => {
    const ws = renderJanusConfig(base()).files['janus.transport.websockets.jcfg'];
    expect(ws).toMatch(/ws = true/);
    expect(ws).toContain('ws_port = 18188');
    expect(ws).toContain('ws_ip = "127.0.0.1"');
    expect(ws).toContain('admin_ws = true');
    expect(ws).toContain('admin_ws_port = 17188');
    expect(ws).toContain('admin_ws_ip = "127.0.0.1"');
    expect(ws).toContain('wss = false');
  });

  it('gives both plugins an admin_key and no static rooms', () => {
    const r = renderJanusConfig(base({ adminKey: 'the-key' }));
    for (const f of ['janus.plugin.videoroom.jcfg', 'janus.plugin.audiobridge.jcfg']) {
      expect(r.files[f]).toContain('admin_key = "the-key"');
      expect(r.files[f]).not.toMatch(/^room-/m);
    }
    // Without an explicit admin key the admin secret is used.
    expect(renderJanusConfig(base()).files['janus.plugin.videoroom.jcfg']).toContain('admin_key = "admin-secret"');
  });

  it('escapes strings and refuses control characters', () => {
    expect(jcfgString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(() => jcfgString('a\nb')).toThrow(/control characters/);
    expect(renderJcfg({ s: { list: ['x', 'y'], n: 3, b: false, u: undefined } })).toBe('s: {\n\tlist = ["x", "y"]\n\tn = 3\n\tb = false\n}\n');
  });

  it('validates ports, range, secret and debug level', () => {
    expect(() => renderJanusConfig(base({ wsPort: 0 }))).toThrow(/wsPort/);
    expect(() => renderJanusConfig(base({ adminWsPort: 18188 }))).toThrow(/differ/);
    expect(() => renderJanusConfig(base({ rtpPortRange: [30000, 20000] }))).toThrow(/empty/);
    expect(() => renderJanusConfig(base({ adminSecret: '' }))).toThrow(/adminSecret/);
    expect(() => renderJanusConfig(base({ debugLevel: 9 }))).toThrow(/debugLevel/);
  });

  it('writes the four files privately', () => {
    const r = writeJanusConfig(base());
    for (const [name, text] of Object.entries(r.files)) {
      const p = path.join(r.dir, name);
      expect(readFileSync(p, 'utf8')).toBe(text);
      expect(statSync(p).mode & 0o077).toBe(0);
    }
    expect(Object.keys(r.files).sort()).toEqual(['janus.jcfg', 'janus.plugin.audiobridge.jcfg', 'janus.plugin.videoroom.jcfg', 'janus.transport.websockets.jcfg']);
  });
});

describe('Janus room ids and log levels', () => {
  it('maps knude room ids to stable, distinct, safe non-zero integers', () => {
    const a = janusRoomId('akut-lund');
    expect(janusRoomId('akut-lund')).toBe(a);
    expect(janusRoomId('akut-malmo')).not.toBe(a);
    for (const id of ['a', 'b', 'x'.repeat(500), 'æøå']) {
      const n = janusRoomId(id);
      expect(Number.isSafeInteger(n)).toBe(true);
      expect(n).toBeGreaterThan(0);
    }
  });

  it('maps Janus log prefixes to pino levels', () => {
    expect(janusLogLevel('[FATAL] [janus.c:main] x')).toBe('fatal');
    expect(janusLogLevel('[ERR] [plugins/janus_videoroom.c] No such room')).toBe('error');
    expect(janusLogLevel('[WARN] Failed to add some remote candidates')).toBe('warn');
    expect(janusLogLevel("[WARN] Plugin 'libjanus_sip.so' has been disabled, skipping...")).toBe('debug');
    expect(janusLogLevel('Loading plugin libjanus_videoroom.so')).toBe('debug');
  });
});
