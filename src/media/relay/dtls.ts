/**
 * DTLS-SRTP for SIP legs (RFC 5763/5764): the handshake runs on the leg's RTP socket (first
 * byte 20-63 is DTLS, RFC 7983), the endpoint's certificate must match the fingerprint in its
 * SDP, and the keys exported from the handshake become the leg's SRTP contexts. werift's DTLS
 * does the handshake (ECDSA P-256, extended master secret); the SRTP is our own.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { CipherContext, DtlsClient, DtlsServer, HashAlgorithm, NamedCurveAlgorithm, SignatureAlgorithm } from 'werift';
import type { SrtpKeyParams } from '../srtp/index.js';

/** werift's SRTP protection profile ids (RFC 5764 4.1.2 / RFC 7714 14.2). */
const PROFILE_AES128_CM_SHA1_80 = 0x0001;
const PROFILE_AEAD_AES_128_GCM = 0x0007;

export interface DtlsCertificate {
  certPem: string;
  keyPem: string;
  signatureHash: { hash: number; signature: number };
  /** For the SDP: a=fingerprint:sha-256 AA:BB:... */
  fingerprint: { algorithm: 'sha-256'; value: string };
}

let certificate: Promise<DtlsCertificate> | undefined;

/** The node's DTLS certificate, made once per process (self-signed; the SDP fingerprint is what is trusted). */
export function dtlsCertificate(): Promise<DtlsCertificate> {
  certificate ??= (async () => {
    const { certPem, keyPem, signatureHash } = await CipherContext.createSelfSignedCertificateWithKey(
      { signature: SignatureAlgorithm.ecdsa_3, hash: HashAlgorithm.sha256_4 },
      NamedCurveAlgorithm.secp256r1_23,
    );
    return { certPem, keyPem, signatureHash, fingerprint: { algorithm: 'sha-256', value: fingerprintOf(new X509Certificate(certPem).raw) } };
  })();
  return certificate;
}

function fingerprintOf(der: Buffer, algorithm = 'sha256'): string {
  return createHash(algorithm).update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

export function isDtls(packet: Buffer): boolean {
  return packet.length > 0 && packet[0] >= 20 && packet[0] <= 63;
}

export class DtlsError extends Error {
  override name = 'DtlsError';
}

/**
 * One handshake. `send` puts a datagram on the wire (to the endpoint's latched address);
 * feed() takes the DTLS datagrams that arrive. Resolves with the SRTP keys of both directions.
 */
export async function dtlsHandshake(o: {
  role: 'client' | 'server';
  fingerprints: Array<{ algorithm: string; value: string }>;
  send: (data: Buffer) => void;
  log: Logger;
  timeoutMs?: number;
}): Promise<{ feed: (data: Buffer) => void; keys: Promise<{ rx: SrtpKeyParams; tx: SrtpKeyParams }>; close: () => void }> {
  const cert = await dtlsCertificate();
  let deliver: ((data: Buffer) => void) | undefined;
  const transport = {
    type: 'udp',
    address: {} as never,
    closed: false,
    onData: (_data: Buffer, _addr?: unknown) => {},
    send: async (data: Buffer) => o.send(data),
    close: async () => {},
  };
  // werift installs its receiver by assigning transport.onData.
  deliver = (data) => (transport.onData as (d: Buffer) => void)(data);
  const options = {
    transport: transport as never,
    cert: cert.certPem,
    key: cert.keyPem,
    signatureHash: cert.signatureHash as never,
    srtpProfiles: [PROFILE_AEAD_AES_128_GCM, PROFILE_AES128_CM_SHA1_80] as never,
    extendedMasterSecret: true,
  };
  const dtls = o.role === 'server' ? new DtlsServer({ ...options, certificateRequest: true }) : new DtlsClient(options);
  const keys = new Promise<{ rx: SrtpKeyParams; tx: SrtpKeyParams }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DtlsError('DTLS handshake timed out')), o.timeoutMs ?? 10_000);
    timer.unref();
    dtls.onError.once((err: Error) => {
      clearTimeout(timer);
      reject(new DtlsError(`DTLS handshake failed: ${err.message}`));
    });
    dtls.onConnect.once(() => {
      clearTimeout(timer);
      try {
        const remote = dtls.remoteCertificate;
        if (!remote) throw new DtlsError('the endpoint sent no certificate');
        const ok = o.fingerprints.some((f) => {
          const alg = f.algorithm.toLowerCase().replace('-', '');
          return fingerprintOf(remote, alg) === f.value.toUpperCase();
        });
        if (!ok) throw new DtlsError("the endpoint's certificate does not match the fingerprint in its SDP");
        const profile = dtls.srtp.srtpProfile as number | undefined;
        const gcm = profile === PROFILE_AEAD_AES_128_GCM;
        const k = dtls.extractSessionKeys(16, gcm ? 12 : 14) as { localKey: Buffer; localSalt: Buffer; remoteKey: Buffer; remoteSalt: Buffer };
        const suite = gcm ? 'AEAD_AES_128_GCM' : 'AES_CM_128_HMAC_SHA1_80';
        resolve({ rx: { suite, masterKey: Buffer.from(k.remoteKey), masterSalt: Buffer.from(k.remoteSalt) }, tx: { suite, masterKey: Buffer.from(k.localKey), masterSalt: Buffer.from(k.localSalt) } });
      } catch (err) {
        reject(err instanceof DtlsError ? err : new DtlsError((err as Error).message));
      }
    });
  });
  keys.catch((err: Error) => o.log.info({ err: err.message }, 'DTLS-SRTP handshake with the endpoint failed'));
  if (dtls instanceof DtlsClient) void dtls.connect().catch(() => {});
  return {
    feed: (data) => deliver?.(data),
    keys,
    close: () => {
      deliver = undefined;
      try {
        dtls.close();
      } catch {
        /* closed */
      }
    },
  };
}
