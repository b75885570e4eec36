import { describe, expect, it } from 'vitest';
import { browserRefusal, sipRejection } from '../../src/capacity/admission.js';
import { parseCapacityConfig } from '../../src/capacity/config.js';
import { decide, quoteReasonText, reasonHeader } from '../../src/capacity/policy.js';
import type { CapacityRefusal, ReserveRequest } from '../../src/capacity/types.js';

const req = (kind: ReserveRequest['kind'], org = 'region-skane'): ReserveRequest => ({ legId: 'l', kind, org });
const none = { ports: 0, licencesMilli: 0, nodeMediaMilli: 0, orgPorts: 0 };

function refusal(partial: Record<string, unknown>, r: ReserveRequest, used = none): CapacityRefusal {
  const out = decide(parseCapacityConfig(partial), r, used);
  if (!out) throw new Error('expected a refusal');
  return out;
}

describe('the admission decision', () => {
  it('admits while every limit has room, exactly up to it', () => {
    const cfg = parseCapacityConfig({ maxPorts: 20, maxLicences: 10, mediaCapacity: 10, defaultOrgQuota: 5 });
    expect(decide(cfg, req('video'), { ports: 19, licencesMilli: 9000, nodeMediaMilli: 9000, orgPorts: 4 })).toBeNull();
    expect(decide(cfg, req('video'), { ports: 20, licencesMilli: 0, nodeMediaMilli: 0, orgPorts: 0 })?.cause).toBe('node-ports');
    expect(decide(cfg, req('video'), { ports: 0, licencesMilli: 9001, nodeMediaMilli: 0, orgPorts: 0 })?.cause).toBe('node-licences');
    expect(decide(cfg, req('audio'), { ports: 0, licencesMilli: 9875, nodeMediaMilli: 0, orgPorts: 0 })).toBeNull();
    expect(decide(cfg, req('video'), { ports: 0, licencesMilli: 0, nodeMediaMilli: 9001, orgPorts: 0 })?.cause).toBe('node-media');
    expect(decide(cfg, req('audio'), { ports: 0, licencesMilli: 0, nodeMediaMilli: 9900, orgPorts: 0 })).toBeNull();
    expect(decide(cfg, req('video'), { ports: 0, licencesMilli: 0, nodeMediaMilli: 0, orgPorts: 5 })?.cause).toBe('org-quota');
    expect(decide(parseCapacityConfig({}), req('browser'), { ports: 1e6, licencesMilli: 1e9, nodeMediaMilli: 1e9, orgPorts: 1e6 })).toBeNull();
  });

  it('quotes the Reason text as a SIP quoted-string', () => {
    expect(quoteReasonText('org "a\\b"\r\nX')).toBe('"org \\"a\\\\b\\"  X"');
    expect(reasonHeader(17, 'busy')).toBe('Q.850;cause=17;text="busy"');
    const r = refusal({ defaultOrgQuota: 0 }, req('video', 'evil"org\r\nVia: x'));
    expect(r.reason).toBe('Q.850;cause=17;text="organisation evil\\"org  Via: x quota of 0 concurrent ports reached"');
    expect(r.reason).not.toMatch(/[\r\n]/);
  });
});

describe('SIP responses and browser messages for a refusal', () => {
  it('node limit: 503 with Retry-After and the Reason', () => {
    const r = refusal({ maxPorts: 20, retryAfterSeconds: 60 }, req('video'), { ...none, ports: 20 });
    expect(sipRejection(r)).toEqual({ status: 503, headers: { 'Retry-After': '60', Reason: 'Q.850;cause=34;text="node port limit 20 reached"' } });
    expect(browserRefusal(r)).toEqual({
      error: 'capacity',
      cause: 'node-ports',
      message: 'The video service is busy: all 20 of its connections are in use. Please try again in 60 seconds.',
      retryAfterSeconds: 60,
    });
  });

  it('licences and media: 503 with cause 47', () => {
    const l = refusal({ maxLicences: 2.5 }, req('video'), { ...none, licencesMilli: 2000 });
    expect(sipRejection(l)).toEqual({ status: 503, headers: { 'Retry-After': '30', Reason: 'Q.850;cause=47;text="node licence limit 2.5 reached"' } });
    const m = refusal({ mediaCapacity: 40 }, req('browser'), { ...none, nodeMediaMilli: 40_000 });
    expect(sipRejection(m).headers.Reason).toBe('Q.850;cause=47;text="node media capacity 40 reached"');
    expect(browserRefusal(m).message).toBe('The video service has no media capacity left right now. Please try again in 30 seconds.');
  });

  it('quota: 486 (or 403) with the Reason naming the quota and no Retry-After', () => {
    const busy = refusal({ orgQuotas: { 'region-skane': 5 } }, req('audio'), { ...none, orgPorts: 5 });
    expect(sipRejection(busy)).toEqual({ status: 486, headers: { Reason: 'Q.850;cause=17;text="organisation region-skane quota of 5 concurrent ports reached"' } });
    expect(browserRefusal(busy)).toEqual({
      error: 'capacity',
      cause: 'org-quota',
      message: 'Your organisation (region-skane) is already using all 5 of its video connections. Try again when one of its calls has ended.',
    });
    const forbidden = refusal({ orgQuotas: { 'region-skane': 5 }, quotaStatus: 403 }, req('audio'), { ...none, orgPorts: 5 });
    expect(sipRejection(forbidden)).toEqual({ status: 403, headers: { Reason: 'Q.850;cause=21;text="organisation region-skane quota of 5 concurrent ports reached"' } });
  });
});
