import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { defaultConfig } from '../../src/config/schema.js';

function file(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'knude-cfg-')), 'knude.yaml');
  writeFileSync(f, text);
  return f;
}

describe('configuration', () => {
  it('is the embedded single-node default with no file and no environment', () => {
    expect(loadConfig()).toEqual(defaultConfig);
    expect(defaultConfig.sip.listen.map((l) => `${l.transport}:${l.port}`)).toEqual(['udp:5060', 'tcp:5060', 'tls:5061', 'ws:5062', 'wss:5063']);
  });

  it('takes defaults <- file <- environment', () => {
    const c = loadConfig({
      file: file('sip:\n  domain: video.example.dk\nhttp:\n  port: 9000\n'),
      env: { KNUDE_HTTP__PORT: '9100', KNUDE_SIP__DRACHTIO__SECRET: '12345', KNUDE_REGISTRAR__ALGORITHMS: '["MD5"]', OTHER: 'x' },
    });
    expect(c.sip.domain).toBe('video.example.dk');
    expect(c.http.port).toBe(9100);
    expect(c.sip.drachtio.secret).toBe('12345'); // a string setting stays a string
    expect(c.registrar.algorithms).toEqual(['MD5']);
    expect(c.sip.listen).toEqual(defaultConfig.sip.listen);
  });

  it.each([
    ['sip: { listne: [] }\n', /unknown setting sip\.listne/],
    ['http: { port: "eighty" }\n', /http\.port must be a number/],
    ['http: { trustedProxies: [nginx.local] }\n', /http\.trustedProxies: "nginx\.local" is not an IP address/],
    ['rooms: { pinFailuresPerAddress: 0 }\n', /rooms\.pinFailuresPerAddress must be a whole number of at least 1/],
    ['reports: { timeZone: Europe/Lund }\n', /reports\.timeZone: "Europe\/Lund" is not a time zone/],
    ['log: { level: loud }\n', /log\.level must be one of/],
    ['sip: { listen: [{ transport: sctp, address: 127.0.0.1, port: 5060 }] }\n', /transport must be one of/],
    ['registrar: { minExpires: 4000 }\n', /minExpires <= defaultExpires <= maxExpires/],
    ['sip: { listen: [{ transport: udp, address: 127.0.0.1, port: 5060 }, { transport: udp, address: 127.0.0.1, port: 5060 }] }\n', /taken twice/],
    ['- just\n- a list\n', /must be a mapping/],
    ['sip: [unclosed\n', /knude\.yaml/],
  ])('refuses %j with a clear message naming the file and setting', (text, message) => {
    const f = file(text);
    expect(() => loadConfig({ file: f })).toThrow(ConfigError);
    expect(() => loadConfig({ file: f })).toThrow(message);
  });

  it('names an environment variable that matches no setting', () => {
    expect(() => loadConfig({ env: { KNUDE_SIP__NOPE: '1' } })).toThrow(/KNUDE_SIP__NOPE names no setting/);
  });

  it('reports a missing file', () => {
    expect(() => loadConfig({ file: '/nonexistent/knude.yaml' })).toThrow(/cannot read configuration file/);
  });
});
