/**
 * /metrics as Prometheus reads it: the real prom-client registry served by metricsHandler on a
 * real HTTP server, its output parsed by a strict text-format (0.0.4) parser, with every
 * metric, label and value the node fed it; state read from callbacks once per scrape.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, metricsHandler, type CapacitySnapshot } from '../../src/stats/metrics.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** The Prometheus text exposition format, strictly: TYPE before samples, escapes, values. */
function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { type: 'untyped', help: '', samples: [] }));
    return f;
  };
  const familyOf = (sample: string) => {
    for (const suffix of ['_bucket', '_sum', '_count', '']) {
      const base = suffix && sample.endsWith(suffix) ? sample.slice(0, -suffix.length) : sample;
      if (families.has(base) && (suffix === '' || ['histogram', 'summary'].includes(families.get(base)!.type))) return base;
    }
    throw new Error(`sample ${sample} has no # TYPE line before it`);
  };
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (m) {
      if (!NAME.test(m[2])) throw new Error(`bad metric name ${m[2]}`);
      const f = family(m[2]);
      if (m[1] === 'TYPE') {
        if (f.samples.length) throw new Error(`TYPE of ${m[2]} after its samples`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3])) throw new Error(`bad type ${m[3]}`);
        f.type = m[3];
      } else f.help = m[3].replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      continue;
    }
    if (line.startsWith('#')) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!m) throw new Error(`malformed sample line: ${line}`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? '';
    while (rest !== '') {
      const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
      if (!l) throw new Error(`malformed labels in: ${line}`);
      if (l[1] in labels) throw new Error(`duplicate label ${l[1]} in: ${line}`);
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(l[0].length);
    }
    const raw = m[3];
    // Prometheus reads values with Go's ParseFloat: NaN and Inf in any case
    const value = /^[+]?inf$/i.test(raw) ? Infinity : /^-inf$/i.test(raw) ? -Infinity : /^nan$/i.test(raw) ? NaN : Number(raw);
    if (!/^nan$/i.test(raw) && Number.isNaN(value)) throw new Error(`bad value ${raw}`);
    family(familyOf(m[1])).samples.push({ name: m[1], labels, value });
  }
  return families;
}

function value(fams: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = fams.get(name);
  const s = f?.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(handler: ReturnType<typeof metricsHandler>): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

describe('metrics', () => {
  it('serves every metric with its labels and values in the Prometheus text format', async () => {
    let capacityReads = 0;
    const snapshot: CapacitySnapshot = {
      node: { portsInUse: 5, portsLimit: 20, licencesInUse: 4.5, licencesLimit: 30, mediaInUse: 7, mediaLimit: 100 },
      orgs: [
        { org: 'region-skane', portsInUse: 3, portsLimit: 10, licencesInUse: 2 },
        { org: 'region-halland', portsInUse: 2 },
      ],
    };
    const m = createMetrics({
      node: 'knude-test',
      sources: {
        registrations: () => 12,
        activeCalls: () => 3,
        activeLegs: () => ({ video: 2, browser: 1 }),
        capacity: () => {
          capacityReads++;
          return snapshot;
        },
      },
    });
    m.sipRequest('INVITE');
    m.sipRequest('INVITE');
    m.sipRequest('register');
    m.sipRequest('X-FLOOD-1');
    m.sipRequest('X-FLOOD-2');
    m.sipResponse('INVITE', 503);
    m.sipResponse('INVITE', 200);
    m.sipResponse('REGISTER', 401);
    m.sipResponse('INVITE', 9999);
    m.admissionRefused('node-ports');
    m.admissionRefused('node-ports');
    m.admissionRefused('org-quota');
    m.admissionRefused('Weird Cause "x"');
    m.pinRefused('wrong-pin');
    m.pinRefused('wrong-pin');
    m.pinRefused('too-many-attempts');
    m.media('video', { packetsSent: 100, packetsReceived: 90, packetsLost: 3, jitterMs: 4.25 });
    m.media('video', { packetsSent: 50, packetsReceived: 10 });
    m.media('audio', { packetsLost: 1, jitterMs: 12 });
    m.janusUp(false);
    m.janusUp(true);

    const url = await serve(metricsHandler(m.registry));
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(m.registry.contentType);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const fams = parsePrometheus(await res.text());
    expect(capacityReads).toBe(1);

    const expected: Array<[string, string, Record<string, string>, number]> = [
      ['knude_registrations', 'gauge', {}, 12],
      ['knude_active_calls', 'gauge', {}, 3],
      ['knude_active_legs', 'gauge', { kind: 'video' }, 2],
      ['knude_active_legs', 'gauge', { kind: 'audio' }, 0],
      ['knude_active_legs', 'gauge', { kind: 'browser' }, 1],
      ['knude_ports_in_use', 'gauge', {}, 5],
      ['knude_ports_limit', 'gauge', {}, 20],
      ['knude_licences_in_use', 'gauge', {}, 4.5],
      ['knude_licences_limit', 'gauge', {}, 30],
      ['knude_media_capacity_in_use', 'gauge', {}, 7],
      ['knude_media_capacity_limit', 'gauge', {}, 100],
      ['knude_org_ports_in_use', 'gauge', { org: 'region-skane' }, 3],
      ['knude_org_ports_in_use', 'gauge', { org: 'region-halland' }, 2],
      ['knude_org_ports_limit', 'gauge', { org: 'region-skane' }, 10],
      ['knude_org_licences_in_use', 'gauge', { org: 'region-skane' }, 2],
      ['knude_admission_refusals_total', 'counter', { cause: 'node-ports' }, 2],
      ['knude_admission_refusals_total', 'counter', { cause: 'org-quota' }, 1],
      ['knude_admission_refusals_total', 'counter', { cause: 'other' }, 1],
      ['knude_room_pin_refusals_total', 'counter', { reason: 'wrong-pin' }, 2],
      ['knude_room_pin_refusals_total', 'counter', { reason: 'too-many-attempts' }, 1],
      ['knude_sip_requests_total', 'counter', { method: 'INVITE' }, 2],
      ['knude_sip_requests_total', 'counter', { method: 'REGISTER' }, 1],
      ['knude_sip_requests_total', 'counter', { method: 'OTHER' }, 2],
      ['knude_sip_responses_total', 'counter', { method: 'INVITE', code: '503' }, 1],
      ['knude_sip_responses_total', 'counter', { method: 'INVITE', code: '200' }, 1],
      ['knude_sip_responses_total', 'counter', { method: 'REGISTER', code: '401' }, 1],
      ['knude_sip_responses_total', 'counter', { method: 'INVITE', code: 'other' }, 1],
      ['knude_media_packets_total', 'counter', { kind: 'video', direction: 'sent' }, 150],
      ['knude_media_packets_total', 'counter', { kind: 'video', direction: 'received' }, 100],
      ['knude_media_packets_lost_total', 'counter', { kind: 'video' }, 3],
      ['knude_media_packets_lost_total', 'counter', { kind: 'audio' }, 1],
      ['knude_media_jitter_ms', 'gauge', { kind: 'video' }, 4.25],
      ['knude_media_jitter_ms', 'gauge', { kind: 'audio' }, 12],
      ['knude_janus_up', 'gauge', {}, 1],
    ];
    for (const [name, type, labels, v] of expected) {
      expect(fams.get(name)?.type, name).toBe(type);
      expect(fams.get(name)!.help.length, `${name} help`).toBeGreaterThan(10);
      expect(value(fams, name, { ...labels, node: 'knude-test' }), `${name}${JSON.stringify(labels)}`).toBe(v);
    }
    // no org limit for an organisation without a quota; the unknown method never became a label
    expect(value(fams, 'knude_org_ports_limit', { org: 'region-halland' })).toBeUndefined();
    expect(JSON.stringify([...fams.values()])).not.toContain('FLOOD');
    // default process metrics, labelled with the node too
    expect(fams.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(value(fams, 'process_resident_memory_bytes', { node: 'knude-test' })).toBeGreaterThan(0);
    expect(fams.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
  });

  it('reads state afresh at each scrape; a failing source leaves its metrics out and the rest served', async () => {
    let orgs: CapacitySnapshot['orgs'] = [{ org: 'a', portsInUse: 1 }, { org: 'b', portsInUse: 2 }];
    let fail = false;
    const m = createMetrics({ defaultMetrics: false });
    m.setSources({
      capacity: () => {
        if (fail) throw new Error('capacity store unavailable');
        return { node: { portsInUse: 3, portsLimit: 10, licencesInUse: 3, licencesLimit: 10 }, orgs };
      },
    });
    const url = await serve(metricsHandler(m.registry));
    let fams = parsePrometheus(await (await fetch(url)).text());
    expect(fams.get('knude_org_ports_in_use')!.samples.map((s) => s.labels.org)).toEqual(['a', 'b']);
    expect(fams.has('process_cpu_user_seconds_total')).toBe(false);
    // no registrations source, no Janus report yet: declared, but no sample that would read as 0
    expect(fams.get('knude_registrations')!.samples).toEqual([]);
    expect(fams.get('knude_janus_up')!.samples).toEqual([]);
    m.janusUp(false);
    expect(value(parsePrometheus(await (await fetch(url)).text()), 'knude_janus_up')).toBe(0);

    orgs = [{ org: 'b', portsInUse: 0 }];
    fams = parsePrometheus(await (await fetch(url)).text());
    expect(fams.get('knude_org_ports_in_use')!.samples.map((s) => [s.labels.org, s.value])).toEqual([['b', 0]]);

    fail = true;
    m.sipRequest('OPTIONS');
    const res = await fetch(url);
    expect(res.status).toBe(200);
    fams = parsePrometheus(await res.text());
    expect(fams.get('knude_ports_in_use')!.samples).toEqual([]);
    expect(value(fams, 'knude_sip_requests_total', { method: 'OPTIONS' })).toBe(1);
  });

  it('answers HEAD without a body and refuses other methods with 405', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const url = await serve(metricsHandler(m.registry));
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(url, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('keeps two nodes in one process apart', async () => {
    const a = createMetrics({ node: 'a', defaultMetrics: false });
    const b = createMetrics({ node: 'b', defaultMetrics: false });
    a.admissionRefused('node-ports');
    const fb = parsePrometheus(await b.registry.metrics());
    expect(fb.get('knude_admission_refusals_total')!.samples).toEqual([]);
    const fa = parsePrometheus(await a.registry.metrics());
    expect(value(fa, 'knude_admission_refusals_total', { cause: 'node-ports', node: 'a' })).toBe(1);
  });
});

describe('the test parser itself', () => {
  it('refuses what Prometheus refuses', () => {
    expect(() => parsePrometheus('x 1\n')).toThrow(/no # TYPE/);
    expect(() => parsePrometheus('# TYPE x gauge\nx{a="1",a="2"} 1\n')).toThrow(/duplicate label/);
    expect(() => parsePrometheus('# TYPE x gauge\nx{a=1} 1\n')).toThrow(/malformed labels/);
    expect(() => parsePrometheus('# TYPE x gauge\nx 1')).toThrow(/newline/);
    expect(() => parsePrometheus('# TYPE x gauge\nx one\n')).toThrow(/bad value/);
    expect(parsePrometheus('# TYPE x gauge\nx{a="q\\"\\\\"} +Inf\n').get('x')!.samples[0]).toEqual({ name: 'x', labels: { a: 'q"\\' }, value: Infinity });
  });
});
