/**
 * Drive SIPp (https://sipp.sourceforge.net, Debian package `sip-tester`) from vitest.
 *
 *  - runSipp(opts)          one bounded sipp run (client or server), resolves with call counts
 *  - startSippServer(opts)  a sipp UAS kept running in the background until .stop()
 *  - stopAll()              kill every sipp this module started (call it from afterAll)
 *  - sendRaw(...)           fire raw datagrams / TCP / TLS bytes and collect what comes back
 *
 * Scenario files live in test/sipp/*.xml; pass the bare file name. Scenario keys (`-key NAME
 * VALUE`) have no defaults inside SIPp (an unknown [key] is a fatal load error), so every
 * scenario declares its keys in its header comment as `@key name=default` (or `@key name
 * (required)`); runSipp reads those lines, fills in the defaults and refuses to start when a
 * required key is missing. See test/sipp/README.md.
 *
 * Bounds: every run gets SIPp's own `-timeout <s> -timeout_error` (whole seconds: SIPp arms it
 * with alarm(2)) a little below `timeoutMs`, and a hard SIGTERM at `timeoutMs` followed by
 * SIGKILL. Traces (-trace_err, -trace_stat, -trace_screen, -trace_calldebug, optionally
 * -trace_msg) go to a temp dir that is deleted after a successful run and kept (path in the
 * result) after a failed one.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

export type SippTransport = 'udp' | 'tcp' | 'tls';

export interface SippAuth {
  user: string;
  password: string;
}

export interface SippRunOptions {
  /** File name in test/sipp (e.g. 'uac-call.xml'), or a path containing a slash. */
  scenario: string;
  /** Remote host:port (IPv6 as [addr]:port). */
  target: string;
  /** Default 'udp' (-t u1); 'tcp' is -t t1; 'tls' is -t l1, which this SIPp build cannot do. */
  transport?: SippTransport;
  /** -p; default: a fresh free port (SIPp would otherwise grab 5060 when it is free). */
  localPort?: number;
  /** -i; default 127.0.0.1 when the target is loopback, else SIPp's own choice. */
  localIp?: string;
  /** -m; default 1. */
  count?: number;
  /** -r calls per rate period. */
  rate?: number;
  /** -rp in ms. */
  ratePeriodMs?: number;
  /** -l max simultaneous calls. */
  concurrency?: number;
  /** -s (Request-URI user / AOR user, per scenario). */
  service?: string;
  /** -au / -ap. */
  auth?: SippAuth;
  /** -auth_uri: SIPp 3.6.1 signs uri="sip:<remote_ip>:<remote_port>" unless this is set. */
  authUri?: string;
  /** -key NAME VALUE pairs; merged over the scenario's @key defaults. */
  keys?: Record<string, string | number>;
  /** Hard limit for the whole run in ms: SIGTERM at this point, SIGKILL shortly after. */
  timeoutMs: number;
  /** -mp (RTP echo port). SIPp binds 6000/6002 (or the next free pair) even with no media. */
  mediaPort?: number;
  /** -tls_cert / -tls_key (only meaningful for a SIPp built with OpenSSL). */
  tlsCert?: string;
  tlsKey?: string;
  /** -trace_msg into the trace dir; default true. Turn off for load runs. */
  traceMessages?: boolean;
  /** Keep traces here (created if needed, never deleted). Default: a temp dir, see keepTraces. */
  traceDir?: string;
  /** For the default temp dir: 'onFailure' (default), 'always', or 'never' (negative tests). */
  keepTraces?: 'onFailure' | 'always' | 'never';
  /** Appended last. */
  extraArgs?: string[];
}

export interface SippResult {
  /** Process exit code (0 all calls ok, 1 some failed, 97 internal exit, 99 no calls, 255 fatal, 254 bind). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** exitCode 0, no failed call, successful === expected count, not killed. */
  ok: boolean;
  /** Cumulative counters (last -trace_stat row, or the last screen in stdout). */
  successful: number;
  failed: number;
  /** The -m value this run aimed at (undefined for an unbounded server). */
  expected?: number;
  durationMs: number;
  /** SIPp hit its own -timeout (it printed "timed out after"). */
  timedOut: boolean;
  /** We had to signal it at timeoutMs, or SIGKILL it after the stop() grace period. */
  killed: boolean;
  /** Ended by stop() / stopAll() (SIGTERM; SIPp then exits 0 with its final stats). */
  stopped: boolean;
  stdout: string;
  stderr: string;
  /** Last row of the -trace_stat CSV, keyed by column name (e.g. 'FailedUnexpectedMessage(C)'). */
  statsCsv?: Record<string, string>;
  /** Head of the -trace_err file (unexpected messages, warnings). */
  errors?: string;
  /** Where the traces are (only set when they were kept). */
  traceDir?: string;
  args: string[];
}

export interface SippServerOptions extends Omit<SippRunOptions, 'target' | 'timeoutMs'> {
  /** Optional remote host:port (a UAS scenario normally has none). */
  target?: string;
  /** -m: exit after that many calls. Default: run until stop(). */
  count?: number;
  /** Upper bound on the server's life (SIPp -timeout + hard kill). Default 120 000 ms. */
  timeoutMs?: number;
  /** How long to wait for the port to be bound. Default 5000 ms. */
  readyTimeoutMs?: number;
}

export interface SippServer {
  host: string;
  port: number;
  transport: SippTransport;
  /** `${host}:${port}`, ready to be used as another run's target. */
  address: string;
  pid: number;
  /** Resolves when sipp exits, whatever the reason. */
  done: Promise<SippResult>;
  /** SIGTERM (SIPp then prints its final stats and exits), SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<SippResult>;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** test/sipp */
export const SIPP_SCENARIO_DIR = path.resolve(HERE, '../sipp');
/** Override with SIPP_BIN=/path/to/sipp. */
export const SIPP_BIN = process.env.SIPP_BIN ?? 'sipp';

const MAX_CAPTURE = 512 * 1024;
const TRANSPORT_FLAG: Record<SippTransport, string> = { udp: 'u1', tcp: 't1', tls: 'l1' };

// ------------------------------------------------------------------ process bookkeeping

interface Tracked {
  child: ChildProcess;
  done: Promise<SippResult>;
  stop: (graceMs?: number) => Promise<SippResult>;
}

const running = new Set<Tracked>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if a test file forgot stopAll(): never leave a sipp behind the worker.
  process.on('exit', () => {
    for (const t of running) {
      try {
        t.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

/** Stop every sipp started by this module (servers and runs still in flight). afterAll-friendly. */
export async function stopAll(graceMs = 2000): Promise<void> {
  await Promise.all([...running].map((t) => t.stop(graceMs).catch(() => undefined)));
}

/** Number of sipp processes this module still tracks (for leak assertions). */
export function runningSippCount(): number {
  return running.size;
}

// ------------------------------------------------------------------ scenario files & keys

export function scenarioPath(scenario: string): string {
  return scenario.includes('/') ? path.resolve(scenario) : path.join(SIPP_SCENARIO_DIR, scenario);
}

export interface ScenarioKey {
  name: string;
  /** undefined = required */
  default?: string;
}

/** The `@key name=default` / `@key name (required)` declarations of a scenario's header. */
export function scenarioKeys(scenario: string): ScenarioKey[] {
  const text = readFileSync(scenarioPath(scenario), 'utf8');
  const header = /<!--([\s\S]*?)-->/.exec(text)?.[1] ?? '';
  const out: ScenarioKey[] = [];
  const re = /@key\s+([A-Za-z_][\w-]*)(?:=("[^"]*"|\S*))?/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header))) {
    const raw = m[2];
    out.push({ name: m[1], default: raw === undefined ? undefined : raw.replace(/^"(.*)"$/, '$1') });
  }
  return out;
}

function resolveKeys(scenario: string, given: Record<string, string | number> | undefined): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const k of scenarioKeys(scenario)) if (k.default !== undefined) keys[k.name] = k.default;
  for (const [k, v] of Object.entries(given ?? {})) keys[k] = String(v);
  const missing = scenarioKeys(scenario).filter((k) => k.default === undefined && !(k.name in keys));
  if (missing.length) {
    throw new Error(`${scenario}: required key(s) missing: ${missing.map((k) => k.name).join(', ')} (pass keys: {...})`);
  }
  return keys;
}

// ------------------------------------------------------------------ argument building

function splitHostPort(target: string): { host: string; port?: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(target);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : undefined };
  const i = target.lastIndexOf(':');
  if (i > 0 && target.indexOf(':') === i) return { host: target.slice(0, i), port: Number(target.slice(i + 1)) };
  return { host: target };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** SIPp's -timeout is armed with alarm(2): whole seconds. Leave ~1 s for it to dump stats. */
function sippTimeoutSeconds(timeoutMs: number): number {
  return Math.max(1, Math.floor((timeoutMs - 1000) / 1000));
}

interface BuiltArgs {
  args: string[];
  traceDir: string;
  keepTraces: 'onFailure' | 'always' | 'never';
  files: { errors: string; stats: string; screen: string; messages: string; calldebug: string };
}

function buildArgs(
  o: Omit<SippRunOptions, 'target' | 'timeoutMs'> & { target?: string; timeoutMs: number; localPort: number },
  bounded: { timeoutError: boolean },
): BuiltArgs {
  const scen = scenarioPath(o.scenario);
  if (!existsSync(scen)) throw new Error(`sipp scenario not found: ${scen}`);
  const keys = resolveKeys(o.scenario, o.keys);
  const base = path.basename(scen, '.xml');
  const keepTraces = o.traceDir !== undefined ? 'always' : (o.keepTraces ?? 'onFailure');
  const traceDir = o.traceDir ?? mkdtempSync(path.join(os.tmpdir(), `knude-sipp-${base}-`));
  mkdirSync(traceDir, { recursive: true });
  const files = {
    errors: path.join(traceDir, `${base}.errors.log`),
    stats: path.join(traceDir, `${base}.stats.csv`),
    screen: path.join(traceDir, `${base}.screen.log`),
    messages: path.join(traceDir, `${base}.messages.log`),
    calldebug: path.join(traceDir, `${base}.calldebug.log`),
  };

  const args: string[] = [];
  if (o.target) args.push(o.target);
  args.push('-sf', scen, '-t', TRANSPORT_FLAG[o.transport ?? 'udp'], '-p', String(o.localPort));
  const localIp = o.localIp ?? (o.target && isLoopback(splitHostPort(o.target).host) ? '127.0.0.1' : undefined);
  if (localIp) args.push('-i', localIp);
  if (o.count !== undefined) args.push('-m', String(o.count));
  if (o.rate !== undefined) args.push('-r', String(o.rate));
  if (o.ratePeriodMs !== undefined) args.push('-rp', `${o.ratePeriodMs}ms`);
  if (o.concurrency !== undefined) args.push('-l', String(o.concurrency));
  if (o.service !== undefined) args.push('-s', o.service);
  if (o.auth) args.push('-au', o.auth.user, '-ap', o.auth.password);
  if (o.authUri) args.push('-auth_uri', o.authUri);
  if (o.mediaPort !== undefined) args.push('-mp', String(o.mediaPort));
  if (o.tlsCert) args.push('-tls_cert', o.tlsCert);
  if (o.tlsKey) args.push('-tls_key', o.tlsKey);
  for (const [k, v] of Object.entries(keys)) args.push('-key', k, v);
  args.push('-nostdin', '-timeout', `${sippTimeoutSeconds(o.timeoutMs)}s`);
  if (bounded.timeoutError) args.push('-timeout_error');
  args.push('-trace_err', '-error_file', files.errors);
  args.push('-trace_stat', '-stf', files.stats);
  args.push('-trace_screen', '-screen_file', files.screen);
  args.push('-trace_calldebug', '-calldebug_file', files.calldebug);
  if (o.traceMessages ?? true) args.push('-trace_msg', '-message_file', files.messages);
  args.push(...(o.extraArgs ?? []));
  return { args, traceDir, keepTraces, files };
}

// ------------------------------------------------------------------ result parsing

/** Last data row of a SIPp -trace_stat CSV (';'-separated) keyed by the header row. */
export function parseStatsCsv(text: string): Record<string, string> | undefined {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) return undefined;
  const head = lines[0].split(';');
  const row = lines[lines.length - 1].split(';');
  const out: Record<string, string> = {};
  head.forEach((h, i) => {
    if (h) out[h] = row[i] ?? '';
  });
  return out;
}

/** Cumulative "Successful call" / "Failed call" from the last statistics screen SIPp printed. */
export function parseScreenCounts(text: string): { successful?: number; failed?: number } {
  const last = (re: RegExp): number | undefined => {
    let v: number | undefined;
    for (const m of text.matchAll(re)) v = Number(m[1]);
    return v;
  };
  return {
    successful: last(/Successful call\s*\|\s*\d+\s*\|\s*(\d+)/g),
    failed: last(/Failed call\s*\|\s*\d+\s*\|\s*(\d+)/g),
  };
}

function readIfExists(file: string, max = 64 * 1024): string | undefined {
  try {
    const t = readFileSync(file, 'utf8');
    return t.length > max ? t.slice(0, max) + `\n... (${t.length - max} more chars)` : t;
  } catch {
    return undefined;
  }
}

/** A one-line description for assertion messages. */
export function describeSippResult(r: SippResult): string {
  const errors = r.errors
    ?.split('\n')
    .filter((l) => l.trim() && !/^The following events occurred/.test(l))
    .join('\n')
    .trim();
  const err = errors || r.stderr.split('\n').filter((l) => l && !l.startsWith('Resolving')).slice(-3).join(' | ');
  return (
    `sipp exit=${r.exitCode}${r.signal ? `/${r.signal}` : ''} ok=${r.ok} successful=${r.successful} failed=${r.failed}` +
    `${r.expected !== undefined ? `/${r.expected}` : ''} ${r.durationMs}ms${r.timedOut ? ' TIMED-OUT' : ''}` +
    `${r.killed ? ' KILLED' : ''}${r.traceDir ? ` traces=${r.traceDir}` : ''}${err ? `\n${err.slice(0, 2000)}` : ''}`
  );
}

// ------------------------------------------------------------------ spawning

function appendCapped(acc: string, chunk: Buffer): string {
  const s = acc + chunk.toString('utf8');
  return s.length > MAX_CAPTURE ? s.slice(s.length - MAX_CAPTURE) : s;
}

interface Spawned {
  child: ChildProcess;
  done: Promise<SippResult>;
  stop: (graceMs?: number) => Promise<SippResult>;
}

function spawnSipp(built: BuiltArgs, hardTimeoutMs: number, expected: number | undefined): Spawned {
  installExitHook();
  const started = Date.now();
  const child = spawn(SIPP_BIN, built.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let killed = false;
  child.stdout?.on('data', (d: Buffer) => (stdout = appendCapped(stdout, d)));
  child.stderr?.on('data', (d: Buffer) => (stderr = appendCapped(stderr, d)));

  let killTimer: NodeJS.Timeout | undefined;
  let stopRequested = false;
  const signalStop = (graceMs: number, why: 'timeout' | 'stop'): void => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (why === 'timeout') killed = true;
    else stopRequested = true;
    child.kill('SIGTERM'); // SIPp prints its final statistics and exits
    if (!killTimer) {
      killTimer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) {
          killed = true;
          child.kill('SIGKILL');
        }
      }, graceMs);
      killTimer.unref();
    }
  };
  const termTimer = setTimeout(() => signalStop(1000, 'timeout'), hardTimeoutMs);
  termTimer.unref();

  let tracked: Tracked;
  const done = new Promise<SippResult>((resolve) => {
    let settled = false;
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(termTimer);
      clearTimeout(killTimer);
      running.delete(tracked);
      if (spawnError) stderr += `\nspawn ${SIPP_BIN} failed: ${spawnError.message}`;
      const statsText = readIfExists(built.files.stats, 4 * 1024 * 1024);
      const statsCsv = statsText ? parseStatsCsv(statsText) : undefined;
      const screen = parseScreenCounts(stdout + '\n' + (readIfExists(built.files.screen) ?? ''));
      const num = (v: string | undefined): number | undefined => (v !== undefined && v !== '' ? Number(v) : undefined);
      const successful = num(statsCsv?.['SuccessfulCall(C)']) ?? screen.successful ?? 0;
      const failed = num(statsCsv?.['FailedCall(C)']) ?? screen.failed ?? 0;
      const timedOut = /timed out after/.test(stderr);
      // A server ended by stop() exits 0 after SIGTERM; a hard timeout or SIGKILL is never ok.
      const ok =
        exitCode === 0 && !killed && failed === 0 && (expected === undefined ? true : successful === expected);
      const errors = readIfExists(built.files.errors, 16 * 1024);
      const keep = built.keepTraces === 'always' || (built.keepTraces === 'onFailure' && !ok);
      if (!keep) rmSync(built.traceDir, { recursive: true, force: true });
      resolve({
        exitCode,
        signal,
        ok,
        successful,
        failed,
        expected,
        durationMs: Date.now() - started,
        timedOut,
        killed,
        stopped: stopRequested,
        stdout,
        stderr,
        statsCsv,
        errors: errors && errors.trim() ? errors : undefined,
        traceDir: keep ? built.traceDir : undefined,
        args: built.args,
      });
    };
    child.once('error', (e) => finish(null, null, e));
    // 'close' (not 'exit'): stdout/stderr are fully drained by then.
    child.once('close', (code, sig) => finish(code, sig));
  });
  const stop = (graceMs = 2000): Promise<SippResult> => {
    signalStop(graceMs, 'stop');
    return done;
  };
  tracked = { child, done, stop };
  running.add(tracked);
  return { child, done, stop };
}

/**
 * One bounded sipp run. Resolves (never rejects for a failed run) once sipp has exited;
 * rejects only for bad options (unknown scenario, missing required key).
 */
export async function runSipp(opts: SippRunOptions): Promise<SippResult> {
  const localPort = opts.localPort ?? (await freePort('both'));
  const count = opts.count ?? 1;
  const built = buildArgs({ ...opts, localPort, count }, { timeoutError: true });
  return spawnSipp(built, opts.timeoutMs, count).done;
}

// ------------------------------------------------------------------ server readiness probe

/**
 * Socket inodes bound to `port` in /proc/net/{udp,udp6} (any state) or /proc/net/{tcp,tcp6}
 * (LISTEN only, st = 0A).
 */
function procNetInodes(port: number, kind: 'udp' | 'tcp'): Set<string> | undefined {
  const out = new Set<string>();
  let readAny = false;
  for (const f of kind === 'udp' ? ['/proc/net/udp', '/proc/net/udp6'] : ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    readAny = true;
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const local = cols[1];
      const st = cols[3];
      const p = parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (p !== port) continue;
      if (kind === 'tcp' && st !== '0A') continue;
      out.add(cols[9]);
    }
  }
  return readAny ? out : undefined;
}

function pidSocketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) out.add(m[1]);
      } catch {
        /* fd closed meanwhile */
      }
    }
  } catch {
    /* process gone */
  }
  return out;
}

/** Fallback without /proc: the port counts as bound when we cannot bind it ourselves. */
async function portTaken(port: number, kind: 'udp' | 'tcp', host: string): Promise<boolean> {
  if (kind === 'tcp') {
    return new Promise((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(true));
      srv.listen(port, host, () => srv.close(() => resolve(false)));
    });
  }
  return new Promise((resolve) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', () => {
      s.close();
      resolve(true);
    });
    s.bind(port, host, () => s.close(() => resolve(false)));
  });
}

/**
 * Is `pid` listening on `port`? Linux: the port's socket inode in /proc/net/* must be one of
 * the process's own fds (so a leftover from another process does not count). Elsewhere: a
 * bind probe (EADDRINUSE means bound).
 */
export async function isListening(pid: number, port: number, kind: 'udp' | 'tcp', host = '127.0.0.1'): Promise<boolean> {
  const inodes = procNetInodes(port, kind);
  if (inodes === undefined) return portTaken(port, kind, host);
  if (inodes.size === 0) return false;
  const mine = pidSocketInodes(pid);
  for (const i of inodes) if (mine.has(i)) return true;
  return false;
}

/**
 * Start a sipp UAS (or any scenario) in the background. Resolves once the process holds its
 * SIP port (UDP bound / TCP listening, probed as described at isListening), rejects if sipp
 * exits first or the port is not bound within readyTimeoutMs (the process is then killed).
 */
export async function startSippServer(opts: SippServerOptions): Promise<SippServer> {
  const transport = opts.transport ?? 'udp';
  const kind = transport === 'udp' ? 'udp' : 'tcp';
  const localPort = opts.localPort ?? (await freePort('both'));
  const localIp = opts.localIp ?? '127.0.0.1';
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const built = buildArgs({ ...opts, localPort, localIp, timeoutMs }, { timeoutError: false });
  const sp = spawnSipp(built, timeoutMs, opts.count);
  const pid = sp.child.pid;
  let exited: SippResult | undefined;
  void sp.done.then((r) => (exited = r));

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 5000);
  for (;;) {
    if (exited) {
      throw new Error(`sipp server (${opts.scenario}) exited before listening: ${describeSippResult(exited)}`);
    }
    if (pid !== undefined && (await isListening(pid, localPort, kind, localIp))) break;
    if (Date.now() > deadline) {
      const r = await sp.stop(500);
      throw new Error(`sipp server (${opts.scenario}) did not bind ${kind} ${localPort} in time: ${describeSippResult(r)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    host: localIp,
    port: localPort,
    transport,
    address: `${localIp.includes(':') ? `[${localIp}]` : localIp}:${localPort}`,
    pid: pid as number,
    done: sp.done,
    stop: sp.stop,
  };
}

// ------------------------------------------------------------------ raw sender

export interface SendRawOptions {
  /** Wait this long after the last send for replies (default 1000 ms). */
  waitMs?: number;
  /** Resolve as soon as this many SIP messages came back. */
  expectReplies?: number;
  /** Pause between two buffers (default 0). */
  gapMs?: number;
  localPort?: number;
  localIp?: string;
  /** TCP/TLS connect timeout (default 2000 ms). */
  connectTimeoutMs?: number;
  /** TLS: servername / CA; certificates are not verified unless ca is given. */
  tlsServername?: string;
  tlsCa?: string | Buffer;
}

export interface SendRawResult {
  /** Every datagram / TCP chunk received, in order. */
  chunks: Buffer[];
  /** SIP messages: one per datagram (UDP), reassembled by Content-Length (TCP/TLS). */
  messages: string[];
  /** Socket errors (connect refused, ICMP unreachable on connected UDP, ...). */
  errors: string[];
  /** TCP/TLS: the peer closed the connection. */
  closedByPeer: boolean;
  durationMs: number;
}

/**
 * Split a SIP byte stream into messages by Content-Length (RFC 3261 18.3); leading CRLF
 * keep-alives are skipped. A header without Content-Length ends at the blank line.
 */
export function splitSipStream(buf: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let rest = buf;
  for (;;) {
    let start = 0;
    while (start + 1 < rest.length && rest[start] === 0x0d && rest[start + 1] === 0x0a) start += 2;
    rest = rest.subarray(start);
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.subarray(0, end).toString('latin1');
    const m = /^(?:content-length|l)[ \t]*:[ \t]*(\d+)/im.exec(head);
    const len = m ? Number(m[1]) : 0;
    if (rest.length < end + 4 + len) break;
    messages.push(rest.subarray(0, end + 4 + len));
    rest = rest.subarray(end + 4 + len);
  }
  return { messages, rest };
}

/**
 * Send raw bytes (possibly malformed SIP) to `target` and collect whatever comes back within
 * a bounded wait. Never rejects for network errors: they are listed in `errors`.
 */
export async function sendRaw(
  target: string,
  transport: SippTransport,
  buffers: Array<Buffer | string>,
  opts: SendRawOptions = {},
): Promise<SendRawResult> {
  const { host, port } = splitHostPort(target);
  if (!port) throw new Error(`sendRaw: target needs a port: ${target}`);
  const waitMs = opts.waitMs ?? 1000;
  const gapMs = opts.gapMs ?? 0;
  const bufs = buffers.map((b) => (typeof b === 'string' ? Buffer.from(b, 'utf8') : b));
  const started = Date.now();
  const res: SendRawResult = { chunks: [], messages: [], errors: [], closedByPeer: false, durationMs: 0 };
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  let wake: (() => void) | undefined;
  const enough = (): boolean => opts.expectReplies !== undefined && res.messages.length >= opts.expectReplies;
  const waitReplies = async (): Promise<void> => {
    if (enough()) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, waitMs);
      wake = () => {
        if (enough()) {
          clearTimeout(t);
          resolve();
        }
      };
    });
  };

  if (transport === 'udp') {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.on('error', (e) => res.errors.push(e.message));
    sock.on('message', (m) => {
      res.chunks.push(m);
      res.messages.push(m.toString('utf8'));
      wake?.();
    });
    await new Promise<void>((resolve) => {
      sock.once('error', () => resolve());
      sock.bind(opts.localPort ?? 0, opts.localIp, () => resolve());
    });
    try {
      for (let i = 0; i < bufs.length; i++) {
        if (i > 0 && gapMs) await sleep(gapMs);
        await new Promise<void>((resolve) =>
          sock.send(bufs[i], port, host, (err) => {
            if (err) res.errors.push(err.message);
            resolve();
          }),
        );
      }
      await waitReplies();
    } finally {
      await new Promise<void>((resolve) => {
        try {
          sock.close(() => resolve());
        } catch {
          resolve();
        }
      });
    }
    res.durationMs = Date.now() - started;
    return res;
  }

  // TCP / TLS
  let pending: Buffer = Buffer.alloc(0);
  const raw = net.connect({ host, port, localAddress: opts.localIp, localPort: opts.localPort });
  raw.on('error', (e) => {
    if (transport === 'tls') res.errors.push(e.message);
  });
  const sock: net.Socket =
    transport === 'tls'
      ? tls.connect({
          socket: raw,
          servername: opts.tlsServername ?? (net.isIP(host) ? undefined : host),
          ca: opts.tlsCa,
          rejectUnauthorized: opts.tlsCa !== undefined,
        })
      : raw;
  sock.on('data', (d: Buffer) => {
    res.chunks.push(d);
    const split = splitSipStream(Buffer.concat([pending, d]));
    pending = split.rest;
    for (const m of split.messages) res.messages.push(m.toString('utf8'));
    wake?.();
  });
  sock.on('end', () => (res.closedByPeer = true));
  sock.on('error', (e) => res.errors.push(e.message));
  const connected = await new Promise<boolean>((resolve) => {
    const t = setTimeout(() => {
      res.errors.push(`connect timeout after ${opts.connectTimeoutMs ?? 2000} ms`);
      resolve(false);
    }, opts.connectTimeoutMs ?? 2000);
    sock.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
      clearTimeout(t);
      resolve(true);
    });
    sock.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
  try {
    if (connected) {
      for (let i = 0; i < bufs.length; i++) {
        if (i > 0 && gapMs) await sleep(gapMs);
        if (sock.destroyed) break;
        await new Promise<void>((resolve) => sock.write(bufs[i], () => resolve()));
      }
      await waitReplies();
    }
  } finally {
    sock.destroy();
    raw.destroy();
  }
  if (pending.length) res.messages.push(pending.toString('utf8'));
  res.durationMs = Date.now() - started;
  return res;
}

// ------------------------------------------------------------------ capability probes

let versionCache: string | null | undefined;

/** "v3.6.1-SCTP-PCAP-RTPSTREAM" or null when sipp is not installed. */
export function sippVersion(): string | null {
  if (versionCache !== undefined) return versionCache;
  const r = spawnSync(SIPP_BIN, ['-v'], { encoding: 'utf8', timeout: 5000 });
  const m = /SIPp\s+(v[\w.\-]+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`);
  versionCache = m ? m[1] : null;
  return versionCache;
}

/** For describe.skipIf(!sippAvailable()). */
export function sippAvailable(): boolean {
  return sippVersion() !== null;
}

let tlsCache: boolean | undefined;

/** False for the Debian sip-tester 3.6.1 build ("To use a TLS transport you must compile SIPp with OpenSSL"). */
export function sippSupportsTls(): boolean {
  if (tlsCache !== undefined) return tlsCache;
  if (!sippAvailable()) return (tlsCache = false);
  const r = spawnSync(SIPP_BIN, ['-sn', 'uas', '-t', 'l1', '-p', '0', '-m', '1', '-nostdin', '-timeout', '1s'], {
    encoding: 'utf8',
    timeout: 5000,
  });
  tlsCache = !/compile SIPp with OpenSSL|NEED_SSL|requires OpenSSL/i.test(`${r.stdout ?? ''}${r.stderr ?? ''}`);
  return tlsCache;
}

// ------------------------------------------------------------------ scenario syntax check

/**
 * Load-check a scenario without any traffic: SIPp parses the XML (keywords, keys, variables,
 * labels) before it binds its socket, so with the port held by us it exits with 254 ("Unable to
 * bind main socket") when the scenario is fine and with another code plus a message when not.
 */
export async function checkScenario(
  scenario: string,
  keys?: Record<string, string | number>,
): Promise<{ ok: boolean; exitCode: number | null; output: string }> {
  const port = await freePort('udp');
  const holder = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => holder.bind(port, '127.0.0.1', () => resolve()));
  try {
    const args = ['127.0.0.1:9', '-sf', scenarioPath(scenario), '-p', String(port), '-i', '127.0.0.1', '-m', '1'];
    for (const [k, v] of Object.entries(resolveKeys(scenario, keys))) args.push('-key', k, v);
    args.push('-nostdin', '-timeout', '2s');
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(SIPP_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout?.on('data', (d: Buffer) => (out = appendCapped(out, d)));
      child.stderr?.on('data', (d: Buffer) => (out = appendCapped(out, d)));
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('error', (e) => {
        clearTimeout(t);
        resolve({ code: null, out: e.message });
      });
      child.once('close', (code) => {
        clearTimeout(t);
        resolve({ code, out });
      });
    });
    const ok = r.code === 254 && /Unable to bind main socket/.test(r.out);
    return { ok, exitCode: r.code, output: r.out };
  } finally {
    await new Promise<void>((resolve) => holder.close(() => resolve()));
  }
}
