/**
 * The whole node with its administration API and H.323 gatekeeper switched on: an operator
 * blocks an IP through the API (mutual TLS) and that source's SIP REGISTER gets no service
 * until it is unblocked; a booking made through the API is a room that SIP callers reach; the
 * gatekeeper runs on the same alias plan.
 */
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/api/v1/client.js';
import { createCa, createClientCertificate } from '../../src/cli/cert.js';
import { decodeRas, encodeRas, H225_PROTOCOL_ID, ipv4Address } from '../../src/h323/index.js';
import { runSipp, sippAvailable } from '../helpers/sipp.js';
import { startKnude, type TestNode } from './knude-harness.js';

const skipReason = sippAvailable() ? undefined : 'sipp is not installed';

describe.skipIf(!!skipReason)('node with API and gatekeeper', () => {
  let k: TestNode;
  let operator: ApiClient;
  const dir = mkdtempSync(join(tmpdir(), 'knude-node-api-'));

  beforeAll(async () => {
    createCa({ outDir: join(dir, 'ca'), commonName: 'knude test client CA' });
    createClientCertificate({ caDir: join(dir, 'ca'), org: null, role: 'operator', outDir: join(dir, 'operator') });
    k = await startKnude({
      overrides: {
        api: { enabled: true, port: 0, clientCaFile: join(dir, 'ca', 'ca.crt') },
        h323: { enabled: true, port: 0 },
      },
    });
    const fp = (JSON.parse(readFileSync(join(dir, 'operator', 'mapping.json'), 'utf8')) as { fingerprint: string }).fingerprint;
    k.node.api!.services.identity.mapCertificate({ fingerprint: fp, org: null, role: 'operator', label: 'test operator' });
    // The node's API certificate is self-signed: the test trusts it as it is.
    operator = new ApiClient({ port: k.node.api!.port, cert: readFileSync(join(dir, 'operator', 'client.crt')), key: readFileSync(join(dir, 'operator', 'client.key')) });
    k.node.plan.createOrg({ name: 'region-skane' });
    k.node.plan.addBlock('region-skane', '+4640');
    k.addAccount('region-skane', 'ep-lund', 'lund-pw', ['+46401001']);
  }, 60_000);

  afterAll(async () => {
    operator?.close();
    await k?.stop();
  });

  it("a blocked IP's REGISTER gets 403 until it is unblocked", async () => {
    const register = () =>
      runSipp({ scenario: 'register-auth.xml', target: k.sip, service: 'ep-lund', auth: { user: 'ep-lund', password: 'lund-pw' }, keys: { expires: 300 }, timeoutMs: 10_000, keepTraces: 'never' });
    expect((await register()).ok, 'registers before the block').toBe(true);

    const block = await operator.post('/api/v1/abuse-blocks', { kind: 'ip', value: '127.0.0.1', reason: 'REGISTER flood' });
    expect(block.status, block.text).toBe(201);
    const refused = await register();
    expect(refused.ok).toBe(false);
    expect(refused.stdout + (refused.errors ?? '')).toMatch(/403/);

    expect((await operator.request('DELETE', `/api/v1/abuse-blocks/${(block.body as { id: string }).id}`)).status).toBe(204);
    expect((await register()).ok, 'registers again after the unblock').toBe(true);

    // The registration is listed by the API, next to H.323 ones.
    const regs = await operator.get('/api/v1/registrations');
    expect(regs.status, regs.text).toBe(200);
    expect(regs.body).toEqual(expect.arrayContaining([expect.objectContaining({ protocol: 'sip', id: 'ep-lund@knude.local', org: 'region-skane', aliases: ['+46401001'] })]));
  }, 60_000);

  it('the H.323 gatekeeper answers on the same node (GRQ -> GCF)', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const reply = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
    const grq = encodeRas({
      gatekeeperRequest: {
        requestSeqNum: 7,
        protocolIdentifier: H225_PROTOCOL_ID,
        rasAddress: ipv4Address('127.0.0.1', sock.address().port),
        endpointType: { terminal: {}, mc: false, undefinedNode: false },
        supportsAssignedGK: false,
      },
    });
    sock.send(grq, k.node.gatekeeper!.port, '127.0.0.1');
    const answer = decodeRas(await reply) as { gatekeeperConfirm?: { requestSeqNum: number } };
    expect(answer.gatekeeperConfirm?.requestSeqNum).toBe(7);
    // An H.323 endpoint registers a number of the plan; the API lists it beside the SIP ones.
    const registered = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
    sock.send(
      encodeRas({
        registrationRequest: {
          requestSeqNum: 8,
          protocolIdentifier: H225_PROTOCOL_ID,
          discoveryComplete: false,
          callSignalAddress: [ipv4Address('127.0.0.1', sock.address().port + 1)],
          rasAddress: [ipv4Address('127.0.0.1', sock.address().port)],
          terminalType: { terminal: {}, mc: false, undefinedNode: false },
          terminalAlias: [{ dialedDigits: '46401001' }],
          endpointVendor: { vendor: { t35CountryCode: 9, t35Extension: 0, manufacturerCode: 61 } },
          keepAlive: false,
          willSupplyUUIEs: false,
          maintainConnection: false,
        },
      } as never),
      k.node.gatekeeper!.port,
      '127.0.0.1',
    );
    const rcf = decodeRas(await registered) as { registrationConfirm?: unknown; registrationReject?: unknown };
    sock.close();
    expect(rcf.registrationConfirm, JSON.stringify(rcf)).toBeDefined();
    const regs = await operator.get('/api/v1/registrations');
    expect((regs.body as Array<{ protocol: string }>).some((r) => r.protocol === 'h323')).toBe(true);
  });
});
