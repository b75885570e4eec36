import { describe, expect, it } from 'vitest';
import { CapacityConfigError, defaultCapacityConfig, parseCapacityConfig, quotaOf } from '../../src/capacity/config.js';

describe('capacity configuration', () => {
  it('defaults to no limits, video and browser 1 and audio 1/8 licence, 486 for quotas and the node store', () => {
    expect(parseCapacityConfig()).toEqual(defaultCapacityConfig);
    expect(parseCapacityConfig(null)).toEqual(defaultCapacityConfig);
    expect(defaultCapacityConfig).toMatchObject({
      maxPorts: null,
      licenceWeights: { video: 1, audio: 0.125, browser: 1 },
      mediaCost: { video: 1, audio: 0.1, browser: 1 },
      quotaStatus: 486,
      store: 'sqlite',
    });
  });

  it('merges weights per leg kind and keeps the others', () => {
    const cfg = parseCapacityConfig({ maxPorts: 20, licenceWeights: { audio: 0.25 }, mediaCost: { browser: 1.5 }, orgQuotas: { 'region-skane': 5 }, defaultOrgQuota: 2 });
    expect(cfg.licenceWeights).toEqual({ video: 1, audio: 0.25, browser: 1 });
    expect(cfg.mediaCost).toEqual({ video: 1, audio: 0.1, browser: 1.5 });
    expect(quotaOf(cfg, 'region-skane')).toBe(5);
    expect(quotaOf(cfg, 'vgregion')).toBe(2);
    expect(quotaOf(cfg, 'constructor')).toBe(2); // not an inherited property
    // The defaults object is never shared with a parsed config.
    cfg.licenceWeights.video = 9;
    expect(defaultCapacityConfig.licenceWeights.video).toBe(1);
  });

  it.each([
    [{ maxPorts: -1 }, 'capacity.maxPorts must be a whole number >= 0 or null (got -1)'],
    [{ maxPorts: 2.5 }, 'capacity.maxPorts must be a whole number >= 0 or null (got 2.5)'],
    [{ maxLicences: '10' }, 'capacity.maxLicences must be a number >= 0 or null (got "10")'],
    [{ mediaCapacity: 1.0005 }, 'capacity.mediaCapacity must be a number with at most 3 decimals (got 1.0005)'],
    [{ licenceWeights: { fax: 1 } }, 'capacity.licenceWeights.fax must be absent: the leg kinds are video, audio and browser (got 1)'],
    [{ licenceWeights: [1] }, 'capacity.licenceWeights must be an object with keys video, audio, browser (got [1])'],
    [{ mediaCost: { audio: -0.1 } }, 'capacity.mediaCost.audio must be a number >= 0 (got -0.1)'],
    [{ orgQuotas: { a: 1.5 } }, 'capacity.orgQuotas.a must be a whole number >= 0 (got 1.5)'],
    [{ orgQuotas: 3 }, 'capacity.orgQuotas must be an object of organisation name → whole number of ports (got 3)'],
    [{ quotaStatus: 404 }, 'capacity.quotaStatus must be 486 or 403 (got 404)'],
    [{ retryAfterSeconds: 0 }, 'capacity.retryAfterSeconds must be between 1 and 86400 seconds (got 0)'],
    [{ store: 'redis' }, `capacity.store must be 'sqlite' or 'postgres' (got "redis")`],
    [{ store: 'postgres' }, "capacity.postgresUrl is required when capacity.store is 'postgres'"],
    [{ leaseSeconds: 0 }, 'capacity.leaseSeconds must be between 1 and 3600 seconds (heartbeats go every third of it) (got 0)'],
    [{ maxport: 3 }, 'capacity.maxport is not a capacity setting (known: maxPorts, maxLicences, mediaCapacity, licenceWeights, mediaCost, defaultOrgQuota, orgQuotas, quotaStatus, retryAfterSeconds, store, postgresUrl, postgresSchema, leaseSeconds)'],
    ['yes', 'capacity must be an object (got "yes")'],
  ])('refuses %j with a message naming the field', (input, message) => {
    expect(() => parseCapacityConfig(input)).toThrow(CapacityConfigError);
    expect(() => parseCapacityConfig(input)).toThrow(message);
  });

  it('never echoes a PostgreSQL URL it refuses (it may carry a password)', () => {
    try {
      parseCapacityConfig({ postgresUrl: 'mysql://admin:hunter2@db/x' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CapacityConfigError);
      expect((err as Error).message).toBe('capacity.postgresUrl must be a postgres:// or postgresql:// URL or null');
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('accepts the shared store with a URL, and uses the path it is given in messages', () => {
    expect(parseCapacityConfig({ store: 'postgres', postgresUrl: 'postgres://knude@db/knude', leaseSeconds: 10, quotaStatus: 403 })).toMatchObject({
      store: 'postgres',
      postgresUrl: 'postgres://knude@db/knude',
      leaseSeconds: 10,
      quotaStatus: 403,
    });
    expect(() => parseCapacityConfig({ maxPorts: 'many' }, 'limits')).toThrow('limits.maxPorts must be');
  });
});
