import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export class CertificateError extends Error {
  override name = 'CertificateError';
}

export interface CertPair {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

/**
 * Loads the configured certificate, or makes a self-signed one for the embedded default
 * (kept under dataDir/tls so restarts present the same certificate to endpoints that pinned it).
 */
export function loadOrCreateCertificate(
  configured: { certFile: string | null; keyFile: string | null },
  dataDir: string,
  commonName: string,
): CertPair {
  if (configured.certFile || configured.keyFile) {
    if (!configured.certFile || !configured.keyFile) throw new CertificateError('sip.tls needs both certFile and keyFile');
    try {
      return {
        cert: readFileSync(configured.certFile),
        key: readFileSync(configured.keyFile),
        certFile: configured.certFile,
        keyFile: configured.keyFile,
      };
    } catch (err) {
      throw new CertificateError(`cannot read TLS certificate: ${(err as Error).message}`);
    }
  }
  const dir = join(dataDir, 'tls');
  const certFile = join(dir, 'self-signed.crt');
  const keyFile = join(dir, 'self-signed.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '825',
          '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=DNS:${commonName},DNS:localhost,IP:127.0.0.1`,
          '-keyout', keyFile, '-out', certFile],
        { stdio: 'pipe' },
      );
    } catch (err) {
      throw new CertificateError(`cannot generate a self-signed certificate with openssl: ${(err as Error).message}`);
    }
  }
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), certFile, keyFile };
}
