import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { defaultConfig } from '../../src/config/schema.js';

const file = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));

describe('shipped configuration files', () => {
  it('config/knude.example.yaml names every setting with exactly its default', () => {
    // The raw file, not loadConfig's result: a setting missing from the file would be filled in.
    expect(parse(readFileSync(file('config/knude.example.yaml'), 'utf8'))).toEqual(defaultConfig);
    expect(loadConfig({ file: file('config/knude.example.yaml') })).toEqual(defaultConfig);
  });

  it('the Docker image configuration loads: embedded server, all interfaces', () => {
    const c = loadConfig({ file: file('docker/knude.image.yaml') });
    expect(c.sip.server).toBe('embedded');
    expect(c.sip.listen.every((l) => l.address === '0.0.0.0')).toBe(true);
    expect(c.http).toEqual({ address: '0.0.0.0', port: 8080, trustedProxies: [] });
  });

  it('the compose configuration loads with its environment: drachtio service, no SIP sockets', () => {
    const c = loadConfig({
      file: file('docker/knude.yaml'),
      env: { KNUDE_SIP__DRACHTIO__SECRET: 'from-compose', KNUDE_SIP__DOMAIN: 'video.example.dk' },
    });
    expect(c.sip.server).toBe('drachtio');
    expect(c.sip.drachtio).toEqual({ host: 'drachtio', port: 9022, secret: 'from-compose' });
    expect(c.sip.domain).toBe('video.example.dk');
    expect(c.sip.listen).toEqual([]);
    expect(c.http.address).toBe('0.0.0.0');
  });
});
