/**
 * Bad input on the wire: every malformed request of the parser corpus is sent to a running
 * node over UDP. The answerable ones (Via, From, To, Call-ID and CSeq readable) get exactly one
 * 400 (505 for another SIP version) whose Warning names the defect; the rest get nothing; and
 * the node still serves a SIPp OPTIONS and a REGISTER afterwards.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { malformed, readFixture } from '../fixtures/sip/corpus.js';
import { describeSippResult, runSipp, sendRaw, stopAll } from '../helpers/sipp.js';
import { startKnude, type TestNode } from './knude-harness.js';

let k: TestNode;

/** Ask for the answer at our source port (RFC 3581) without touching the defect under test. */
function withRport(buf: Buffer): Buffer {
  const text = buf.toString('latin1');
  const m = /^(via|v)[ \t]*:[^\r\n]*/im.exec(text);
  if (!m || /;\s*rport/i.test(m[0])) return buf;
  const at = m.index + m[0].length;
  return Buffer.concat([buf.subarray(0, at), Buffer.from(';rport'), buf.subarray(at)]);
}

beforeAll(async () => {
  k = await startKnude();
  k.addAccount('region-a', 'alice', 'alice-pw');
});

afterAll(async () => {
  await stopAll();
  await k?.stop();
});

describe('malformed requests', () => {
  it(`answers each of the ${malformed.length} malformed requests as the corpus says, and keeps serving`, async () => {
    expect(malformed.length).toBeGreaterThanOrEqual(100);
    const problems: string[] = [];
    for (const f of malformed) {
      const r = await sendRaw(k.sip, 'udp', [withRport(readFixture('malformed', f.file))], {
        expectReplies: f.answerable ? 1 : undefined,
        waitMs: f.answerable ? 2000 : 250,
      });
      if (!f.answerable) {
        if (r.messages.length) problems.push(`${f.file}: expected no answer, got ${r.messages[0].split('\r\n')[0]}`);
        continue;
      }
      const reply = r.messages[0];
      if (!reply) {
        problems.push(`${f.file}: no answer`);
        continue;
      }
      if (!reply.startsWith(`SIP/2.0 ${f.status} `)) problems.push(`${f.file}: expected ${f.status}, got ${reply.split('\r\n')[0]}`);
      const warning = /^Warning: 399 \S+ "([^"]*)"/m.exec(reply)?.[1] ?? '';
      if (!warning.toLowerCase().includes(f.keyword.toLowerCase())) problems.push(`${f.file}: Warning "${warning}" does not name "${f.keyword}"`);
      if (r.messages.length > 1) problems.push(`${f.file}: ${r.messages.length} answers`);
    }
    expect(problems).toEqual([]);
    expect(k.node.sipServer!.counters.malformed).toBeGreaterThanOrEqual(malformed.length);
    const options = await runSipp({ scenario: 'options.xml', target: k.sip, timeoutMs: 10_000 });
    expect(options.ok, describeSippResult(options)).toBe(true);
    const reg = await runSipp({ scenario: 'register-auth.xml', target: k.sip, service: 'alice', auth: { user: 'alice', password: 'alice-pw' }, keys: { expires: 60 }, timeoutMs: 10_000 });
    expect(reg.ok, describeSippResult(reg)).toBe(true);
  });

  it('answers 100 generated requests, each with a different defect, with 400 and a Warning', async () => {
    const methods = ['OPTIONS', 'REGISTER', 'INVITE', 'MESSAGE', 'INFO', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'UPDATE', 'REFER'];
    // Each template breaks one thing and leaves Via, From, To, Call-ID and CSeq readable.
    const defects: Array<(i: number, m: string) => { lines: string[]; keyword: RegExp }> = [
      (i, m) => ({ lines: [`${m} sip:u${i}@127.0.0.1 SIP/2.0`, `Content-Length: ${i}x`], keyword: /Content-Length/i }),
      (i, m) => ({ lines: [`${m} sip:u${i}@127.0.0.1 SIP/2.0`, `Max-Forwards: ${i}z`], keyword: /Max-Forwards/i }),
      (i, m) => ({ lines: [`${m} sip:u${i}@127.0.0.1 SIP/2.0`, `Broken header line ${i} without a colon`], keyword: /colon|header/i }),
      (i, m) => ({ lines: [`${m} sip:u${i} @127.0.0.1 SIP/2.0`], keyword: /request|URI/i }),
      (i, m) => ({ lines: [`${m} sip:u${i}@127.0.0.1 SIP/2.0`, `Content-Length: ${100 + i}`], keyword: /Content-Length|body/i }),
    ];
    const problems: string[] = [];
    for (let i = 0; i < 100; i++) {
      const method = methods[i % methods.length];
      const { lines, keyword } = defects[i % defects.length](i, method);
      const [start, ...extra] = lines;
      const cseqMethod = method;
      const msg = [
        start,
        `Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-gen-${i}`,
        `From: <sip:tester@127.0.0.1>;tag=gen${i}`,
        `To: <sip:u${i}@127.0.0.1>`,
        `Call-ID: generated-${i}@127.0.0.1`,
        `CSeq: ${i + 1} ${cseqMethod}`,
        ...extra,
        ...(extra.some((l) => l.startsWith('Content-Length')) ? [] : ['Content-Length: 0']),
        '',
        '',
      ].join('\r\n');
      const r = await sendRaw(k.sip, 'udp', [Buffer.from(msg)], { expectReplies: 1, waitMs: 2000 });
      const reply = r.messages[0] ?? '';
      if (!reply.startsWith('SIP/2.0 400 ')) problems.push(`#${i} (${start}): ${reply.split('\r\n')[0] || 'no answer'}`);
      else if (!keyword.test(/^Warning: (.*)$/m.exec(reply)?.[1] ?? '')) problems.push(`#${i}: Warning does not name the defect: ${/^Warning: .*$/m.exec(reply)?.[0]}`);
      else if (!reply.includes(`Call-ID: generated-${i}@127.0.0.1`)) problems.push(`#${i}: answer for another request`);
    }
    expect(problems).toEqual([]);
    const options = await runSipp({ scenario: 'options.xml', target: k.sip, timeoutMs: 10_000 });
    expect(options.ok, describeSippResult(options)).toBe(true);
  });

  it('closes a TCP connection whose stream cannot be framed, and answers a framed bad request with 400', async () => {
    const framed = withRport(readFixture('malformed', malformed.find((f) => f.answerable && f.status === 400)!.file));
    const ok = await sendRaw(k.sip, 'tcp', [framed], { expectReplies: 1, waitMs: 2000 });
    expect(ok.messages[0]).toMatch(/^SIP\/2\.0 400 /);

    const socket = net.connect({ host: '127.0.0.1', port: k.ports.sip });
    await new Promise((r) => socket.once('connect', r));
    const closed = new Promise<boolean>((r) => {
      socket.once('close', () => r(true));
      setTimeout(() => r(false), 3000);
    });
    // No Content-Length on a stream: RFC 3261 18.3 makes the message unframeable.
    socket.write('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK1\r\n\r\n');
    expect(await closed).toBe(true);
  });

  it('closes a connection that sends an oversize message, and keeps serving', async () => {
    const huge = Buffer.from(`OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK2\r\nX-Pad: ${'a'.repeat(70_000)}\r\n\r\n`);
    const r = await sendRaw(k.sip, 'tcp', [huge], { waitMs: 1000 });
    expect(r.messages).toEqual([]);
    // Closed mid-write, the client sees either the close or a reset.
    expect(r.closedByPeer || r.errors.length > 0, JSON.stringify(r.errors)).toBe(true);
    const options = await runSipp({ scenario: 'options.xml', target: k.sip, timeoutMs: 10_000 });
    expect(options.ok).toBe(true);
  });
});
