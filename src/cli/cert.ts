/**
 * `knude cert ca|client|server`: a test CA and certificates for the administration API's
 * mutual TLS, made with the openssl command. Production uses OCES3 certificates; these are for
 * test environments and for trying the API. Wired into the CLI by commands.ts:
 * addCertCommands(program).
 *
 * Each client certificate is written with a mapping.json beside it ({fingerprint, org, role,
 * label}): the body of POST /api/v1/client-certificates that registers it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { DialPlanStore } from '../dialplan/index.js';
import { ApiProblem } from '../api/v1/errors.js';
import { IdentityStore } from '../api/v1/identity.js';
import { apiMigrations } from '../api/v1/migrations.js';
import { migrate, StoreError } from '../store/database.js';

/** A certificate request the user can fix: one line, exit code 2 (the CLI prints StoreErrors so). */
export class CertCommandError extends StoreError {
  override name = 'CertCommandError';
}

export const CERT_ROLES = ['operator', 'org-admin', 'booker'] as const;
export type CertRole = (typeof CERT_ROLES)[number];

export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  /** SHA-256 of the DER certificate, lowercase hex without colons (what the API maps). */
  fingerprint: string;
  subject: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 .,_-]{0,63}$/;
const ORG_RE = /^[a-z0-9][a-z0-9-]{1,62}$/;

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: 'pipe' });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new CertCommandError(`openssl ${args[0]} failed: ${stderr || (err as Error).message}`);
  }
}

function checkDays(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new CertCommandError(`days must be a whole number 1-3650, not ${days}`);
  return days;
}

function describe(certFile: string, keyFile: string): IssuedCertificate {
  const cert = new X509Certificate(readFileSync(certFile));
  return { certFile, keyFile, fingerprint: cert.fingerprint256.replace(/:/g, '').toLowerCase(), subject: cert.subject.replace(/\n/g, ', ') };
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA: ca.crt and ca.key (0600) in outDir. Refuses to overwrite an existing CA. */
export function createCa(opts: { outDir: string; commonName?: string; days?: number }): IssuedCertificate {
  const cn = opts.commonName ?? 'knude test client CA';
  if (!NAME_RE.test(cn)) throw new CertCommandError(`CA name "${cn.slice(0, 70)}" must be 1-64 letters, digits, spaces or .,_-`);
  const certFile = join(opts.outDir, 'ca.crt');
  const keyFile = join(opts.outDir, 'ca.key');
  if (existsSync(certFile) || existsSync(keyFile)) throw new CertCommandError(`${opts.outDir} already holds a CA (ca.crt/ca.key); choose another directory`);
  mkdirSync(opts.outDir, { recursive: true, mode: 0o700 });
  openssl([
    'req', '-x509', ...EC_KEY, '-days', String(checkDays(opts.days ?? 3650)), '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', keyFile, '-out', certFile,
  ]);
  return describe(certFile, keyFile);
}

function issue(caDir: string, outDir: string, base: string, subject: string, extensions: string, days: number): IssuedCertificate {
  const caCert = join(caDir, 'ca.crt');
  const caKey = join(caDir, 'ca.key');
  if (!existsSync(caCert) || !existsSync(caKey)) throw new CertCommandError(`${caDir} holds no CA (ca.crt and ca.key); make one with: knude cert ca --out ${caDir}`);
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const certFile = join(outDir, `${base}.crt`);
  const keyFile = join(outDir, `${base}.key`);
  const work = mkdtempSync(join(tmpdir(), 'knude-cert-'));
  try {
    const csr = join(work, 'req.csr');
    const ext = join(work, 'ext.cnf');
    writeFileSync(ext, extensions);
    openssl(['req', '-new', ...EC_KEY, '-subj', subject, '-keyout', keyFile, '-out', csr]);
    openssl([
      'x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', `0x${randomBytes(16).toString('hex').replace(/^[89a-f]/, '1')}`,
      '-days', String(checkDays(days)), '-sha256', '-extfile', ext, '-out', certFile,
    ]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return describe(certFile, keyFile);
}

/**
 * A client certificate for `org` and `role`, signed by the CA in caDir: client.crt,
 * client.key and mapping.json in outDir. The subject carries O=<org>, OU=<role>, like an OCES3
 * system certificate carries its organisation; the API maps it by fingerprint.
 */
export function createClientCertificate(opts: { caDir: string; org: string | null; role: CertRole; outDir: string; commonName?: string; days?: number }): IssuedCertificate {
  if (!(CERT_ROLES as readonly string[]).includes(opts.role)) throw new CertCommandError(`role must be one of ${CERT_ROLES.join(', ')}, not "${String(opts.role).slice(0, 30)}"`);
  if (opts.org === null ? opts.role !== 'operator' : !ORG_RE.test(opts.org)) throw new CertCommandError(`--org must be an organisation name (lowercase letters, digits, dashes)${opts.role === 'operator' ? '' : `; a ${opts.role} needs one`}`);
  const cn = opts.commonName ?? `${opts.org ?? 'operator'} ${opts.role} client`;
  if (!NAME_RE.test(cn)) throw new CertCommandError(`name "${cn.slice(0, 70)}" must be 1-64 letters, digits, spaces or .,_-`);
  const subject = `${opts.org ? `/O=${opts.org}` : ''}/OU=${opts.role}/CN=${cn}`;
  const issued = issue(opts.caDir, opts.outDir, 'client', subject, 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n', opts.days ?? 825);
  writeFileSync(join(opts.outDir, 'mapping.json'), `${JSON.stringify({ fingerprint: issued.fingerprint, ...(opts.org ? { org: opts.org } : {}), role: opts.role, label: cn }, null, 2)}\n`);
  return issued;
}

/** A server certificate for the API listener (names: DNS names or IP addresses). */
export function createServerCertificate(opts: { caDir: string; names: string[]; outDir: string; days?: number }): IssuedCertificate {
  if (opts.names.length === 0) throw new CertCommandError('a server certificate needs at least one --name');
  const san = opts.names
    .map((n) => {
      if (/^[\d.]+$/.test(n) || n.includes(':')) return `IP:${n}`;
      if (!/^[A-Za-z0-9.-]{1,253}$/.test(n)) throw new CertCommandError(`"${n.slice(0, 60)}" is not a DNS name or IP address`);
      return `DNS:${n}`;
    })
    .join(',');
  const cn = opts.names[0] as string;
  return issue(opts.caDir, opts.outDir, 'server', `/CN=${/^[A-Za-z0-9.:-]+$/.test(cn) ? cn : 'knude'}`, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`, opts.days ?? 825);
}

function parseDays(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,4}$/.test(v)) throw new CertCommandError(`--days must be a whole number, not "${v.slice(0, 20)}"`);
  return Number(v);
}

export interface CertCliHelpers {
  write?: (text: string) => void;
  /** Opens the node's store for one command (commands.ts's withStore fits); enables `cert register`. */
  withStore?<T>(cmd: Command, fn: (stores: { plan: DialPlanStore }) => T): T;
}

export function addCertCommands(program: Command, helpers: CertCliHelpers = {}): Command {
  const write = helpers.write ?? ((text: string) => void process.stdout.write(text));
  const cert = program.command('cert').description('test CA and certificates for the administration API (mutual TLS)');
  cert
    .command('ca')
    .description('make a CA that issues client certificates (ca.crt is the API\'s clientCaFile)')
    .requiredOption('--out <dir>', 'directory for ca.crt and ca.key')
    .option('--name <cn>', 'common name of the CA', 'knude test client CA')
    .option('--days <n>', 'validity in days', '3650')
    .action((opts: { out: string; name: string; days: string }) => {
      const ca = createCa({ outDir: opts.out, commonName: opts.name, days: parseDays(opts.days) as number });
      write(`CA written: ${ca.certFile} (key ${ca.keyFile})\nset api.clientCaFile to ${ca.certFile}\n`);
    });
  cert
    .command('client')
    .description('issue a client certificate for an organisation and role')
    .requiredOption('--ca <dir>', 'directory of the CA (made with: knude cert ca)')
    .option('--org <name>', 'organisation (omit only for an operator)')
    .requiredOption('--role <role>', `one of ${CERT_ROLES.join(', ')}`)
    .requiredOption('--out <dir>', 'directory for client.crt, client.key and mapping.json')
    .option('--name <cn>', 'common name')
    .option('--days <n>', 'validity in days', '825')
    .action((opts: { ca: string; org?: string; role: string; out: string; name?: string; days: string }) => {
      const c = createClientCertificate({
        caDir: opts.ca,
        org: opts.org ?? null,
        role: opts.role as CertRole,
        outDir: opts.out,
        ...(opts.name ? { commonName: opts.name } : {}),
        days: parseDays(opts.days) as number,
      });
      write(`client certificate written: ${c.certFile} (key ${c.keyFile})\nsubject: ${c.subject}\nsha256 fingerprint: ${c.fingerprint}\nregister it: POST /api/v1/client-certificates with ${join(opts.out, 'mapping.json')}\n`);
    });
  cert
    .command('server')
    .description('issue a server certificate for the API listener')
    .requiredOption('--ca <dir>', 'directory of the CA')
    .requiredOption('--name <names...>', 'DNS names or IP addresses')
    .requiredOption('--out <dir>', 'directory for server.crt and server.key')
    .option('--days <n>', 'validity in days', '825')
    .action((opts: { ca: string; name: string[]; out: string; days: string }) => {
      const c = createServerCertificate({ caDir: opts.ca, names: opts.name, outDir: opts.out, days: parseDays(opts.days) as number });
      write(`server certificate written: ${c.certFile} (key ${c.keyFile})\n`);
    });
  const withStore = helpers.withStore;
  if (withStore) {
    cert
      .command('register')
      .description('map a client certificate to an organisation and role in the node\'s store (how the first operator gets in)')
      .option('--mapping <file>', 'mapping.json written by: knude cert client')
      .option('--cert <file>', 'PEM certificate (instead of --mapping)')
      .option('--org <name>', 'organisation (omit only for an operator)')
      .option('--role <role>', `one of ${CERT_ROLES.join(', ')}`)
      .option('--label <text>', 'what the certificate is for')
      .action((opts: { mapping?: string; cert?: string; org?: string; role?: string; label?: string }, cmd: Command) => {
        let m: { fingerprint?: string; org?: string; role?: string; label?: string; subject?: string } = {};
        try {
          if (opts.mapping) m = JSON.parse(readFileSync(opts.mapping, 'utf8')) as typeof m;
          if (opts.cert) {
            const c = new X509Certificate(readFileSync(opts.cert));
            m = { ...m, fingerprint: c.fingerprint256, subject: c.subject.replace(/\n/g, ', ') };
          }
        } catch (err) {
          throw new CertCommandError(`cannot read the certificate or mapping: ${(err as Error).message}`);
        }
        const role = opts.role ?? m.role;
        if (!m.fingerprint) throw new CertCommandError('give --mapping FILE or --cert FILE');
        if (!role || !(CERT_ROLES as readonly string[]).includes(role)) throw new CertCommandError(`--role must be one of ${CERT_ROLES.join(', ')}`);
        const org = opts.org ?? m.org ?? null;
        withStore(cmd, ({ plan }) => {
          if (org && !plan.getOrg(org)) throw new CertCommandError(`no organisation named "${org}" (add it with: knude org add ${org})`);
          migrate(plan.db, apiMigrations);
          try {
            const mapped = new IdentityStore(plan.db).mapCertificate({ fingerprint: m.fingerprint as string, org, role: role as CertRole, label: opts.label ?? m.label ?? 'registered from the command line', ...(m.subject ? { subject: m.subject } : {}) });
            write(`certificate ${mapped.fingerprint} mapped to ${mapped.org ?? 'all organisations'} as ${mapped.role}\n`);
          } catch (err) {
            if (err instanceof ApiProblem) throw new CertCommandError(err.message);
            throw err;
          }
        });
      });
  }
  return cert;
}
