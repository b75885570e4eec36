/**
 * Runs the embedded Janus: writes its configuration, starts `janus`, pipes its log into
 * pino, waits until the WebSocket API answers `info`, restarts it when it dies (with
 * backoff and a bounded number of restarts per minute) and stops it without leaving a
 * process behind (SIGTERM, SIGKILL after a grace period; SIGKILL when node exits; and
 * where util-linux's setpriv exists, the kernel kills Janus if node dies without running
 * its exit handlers).
 *
 * A supervisor can also stand for an external Janus (`JanusSupervisor.external`): no
 * process, only the URLs and secrets and the readiness check.
 *
 * Events: `ready` (every time the API answers after a (re)start), `down` (the process died
 * unexpectedly), `restarted` (it is back, empty: no rooms, no sessions), `failed` (too many
 * restarts: it stays down until start() is called again).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import readline from 'node:readline';
import type { Logger } from 'pino';
import { JanusClient } from './client.js';
import { writeJanusConfig, type JanusConfig } from './config.js';

export type SupervisorEvents = {
  ready: [];
  down: [{ code: number | null; signal: NodeJS.Signals | null }];
  restarted: [];
  failed: [Error];
};

export interface JanusSupervisorOptions {
  config: JanusConfig;
  log: Logger;
  /** The janus executable (default `janus` on PATH). */
  binary?: string;
  /** How long start-up may take before it counts as failed (default 20 s). */
  startTimeoutMs?: number;
  /** Between SIGTERM and SIGKILL when stopping (default 3 s). */
  stopGraceMs?: number;
  /** At most this many restarts in any 60 s window (default 5); then `failed`. */
  maxRestartsPerMinute?: number;
  /** First restart delay, doubled per consecutive failure up to maxBackoffMs (default 250 ms / 5 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Log lines kept for error messages (default 40). */
  keepLogLines?: number;
}

export interface ExternalJanusOptions {
  url: string;
  adminUrl?: string;
  adminSecret?: string;
  apiSecret?: string;
  log: Logger;
  startTimeoutMs?: number;
}

/** Every Janus this node process started and has not seen exit: killed on process exit. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of liveChildren) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

const SETPRIV = '/usr/bin/setpriv';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug';

/** Janus's line prefix -> pino level; the routine start-up chatter goes to debug. */
export function janusLogLevel(line: string): Level {
  if (line.startsWith('[FATAL]')) return 'fatal';
  if (line.startsWith('[ERR]')) return 'error';
  if (line.startsWith('[WARN]')) {
    // Start-up notes about what knude configured on purpose, and the VideoRoom noting that a
    // feed knude unsubscribes from has already left.
    if (/has been disabled, skipping|Reclaim session timeouts have been disabled|mDNS resolution disabled|not found, not unsubscribing/.test(line)) return 'debug';
    return 'warn';
  }
  return 'debug';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class JanusSupervisor extends EventEmitter<SupervisorEvents> {
  readonly url: string;
  readonly adminUrl: string | undefined;
  readonly adminSecret: string | undefined;
  readonly apiSecret: string | undefined;
  readonly embedded: boolean;

  private child: ChildProcess | undefined;
  private readonly log: Logger;
  private readonly janusLog: Logger;
  private readonly lines: string[] = [];
  private stopping = false;
  private isReady = false;
  private restartTimes: number[] = [];
  private consecutiveFailures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;

  private constructor(
    private readonly opts: Partial<JanusSupervisorOptions> & { log: Logger; startTimeoutMs?: number },
    urls: { url: string; adminUrl?: string; adminSecret?: string; apiSecret?: string },
    embedded: boolean,
  ) {
    super();
    this.url = urls.url;
    this.adminUrl = urls.adminUrl;
    this.adminSecret = urls.adminSecret;
    this.apiSecret = urls.apiSecret;
    this.embedded = embedded;
    this.log = opts.log.child({ component: 'janus' });
    this.janusLog = opts.log.child({ component: 'janus', src: 'janus-log' });
  }

  /** A supervisor that runs Janus itself. */
  static embedded(opts: JanusSupervisorOptions): JanusSupervisor {
    return new JanusSupervisor(
      opts,
      {
        url: `ws://127.0.0.1:${opts.config.wsPort}`,
        adminUrl: `ws://127.0.0.1:${opts.config.adminWsPort}`,
        adminSecret: opts.config.adminSecret,
        apiSecret: opts.config.apiSecret,
      },
      true,
    );
  }

  /** A Janus someone else runs: start() only waits for its API. */
  static external(opts: ExternalJanusOptions): JanusSupervisor {
    return new JanusSupervisor({ log: opts.log, startTimeoutMs: opts.startTimeoutMs }, opts, false);
  }

  /** The pid of the running Janus, if this supervisor runs one. */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** True while Janus answers (after start() or a restart, until it dies or is stopped). */
  get ready(): boolean {
    return this.isReady;
  }

  /** The last lines Janus logged (newest last). */
  get recentLog(): string[] {
    return [...this.lines];
  }

  /** Starts Janus (or waits for the external one) and resolves when its API answers. */
  start(): Promise<void> {
    if (this.starting) return this.starting;
    this.stopping = false;
    this.restartTimes = [];
    this.consecutiveFailures = 0;
    this.starting = (this.embedded ? this.spawnAndWait() : this.waitForApi(undefined)).finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async spawnAndWait(): Promise<void> {
    const child = this.spawnJanus();
    try {
      await this.waitForApi(child);
    } catch (err) {
      await this.killChild(child);
      throw err;
    }
    if (this.stopping) {
      await this.killChild(child);
      throw new Error('Janus was stopped while starting');
    }
    this.isReady = true;
    this.consecutiveFailures = 0;
    this.log.info({ janusPid: child.pid, url: this.url }, 'Janus is up');
    this.emit('ready');
  }

  private spawnJanus(): ChildProcess {
    const o = this.opts as JanusSupervisorOptions;
    const files = writeJanusConfig(o.config);
    const binary = o.binary ?? 'janus';
    const args = [`--config=${files.mainFile}`, `--configs-folder=${files.dir}`, '--disable-colors', `--debug-level=${o.config.debugLevel}`];
    // setpriv --pdeathsig: the kernel sends SIGKILL to Janus when node dies, even by SIGKILL.
    const [cmd, argv] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', '--', binary, ...args]] : [binary, args];
    this.lines.length = 0;
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: files.dir, env: { ...process.env, LC_ALL: 'C' } });
    installExitHook();
    liveChildren.add(child);
    this.child = child;
    this.log.debug({ janusPid: child.pid, cmd, args: argv }, 'starting Janus');
    const keep = o.keepLogLines ?? 40;
    const onLine = (raw: string) => {
      const line = raw.replace(ANSI, '').trimEnd();
      if (!line) return;
      this.lines.push(line);
      if (this.lines.length > keep) this.lines.shift();
      this.janusLog[janusLogLevel(line)](line);
    };
    readline.createInterface({ input: child.stdout! }).on('line', onLine);
    readline.createInterface({ input: child.stderr! }).on('line', onLine);
    child.on('error', (err) => {
      this.lines.push(`spawn error: ${err.message}`);
      this.log.error({ err: err.message, binary }, 'cannot start Janus');
    });
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      if (this.child === child) this.child = undefined;
      this.onExit(child, code, signal);
    });
    return child;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const wasReady = this.isReady;
    this.isReady = false;
    if (this.stopping || !wasReady) {
      // A stop, or a failed (re)start, which its caller reports.
      this.log.debug({ janusPid: child.pid, code, signal }, 'Janus exited');
      return;
    }
    this.log.error({ janusPid: child.pid, code, signal, lastLog: this.lines.slice(-10) }, 'Janus died');
    this.emit('down', { code, signal });
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.stopping) return;
    const o = this.opts as JanusSupervisorOptions;
    const now = Date.now();
    this.restartTimes = this.restartTimes.filter((t) => now - t < 60_000);
    const max = o.maxRestartsPerMinute ?? 5;
    if (this.restartTimes.length >= max) {
      const err = new Error(`Janus died ${max} times within a minute; not restarting it (last log: ${this.lines.slice(-5).join(' | ')})`);
      this.log.fatal({ lastLog: this.lines.slice(-20) }, err.message);
      this.emit('failed', err);
      return;
    }
    this.restartTimes.push(now);
    const delay = Math.min((o.backoffMs ?? 250) * 2 ** this.consecutiveFailures, o.maxBackoffMs ?? 5000);
    this.log.warn({ delayMs: delay, attempt: this.restartTimes.length }, 'restarting Janus');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.starting = this.spawnAndWait()
        .then(() => {
          this.log.warn('Janus restarted (empty: rooms must be created again)');
          this.emit('restarted');
        })
        .catch((err: Error) => {
          if (this.stopping) return;
          this.consecutiveFailures++;
          this.log.error({ err: err.message }, 'Janus restart failed');
          this.scheduleRestart();
        })
        .finally(() => {
          this.starting = undefined;
        });
    }, delay);
  }

  /** Polls `info` on the API until it answers, the process exits, or the deadline passes. */
  private async waitForApi(child: ChildProcess | undefined): Promise<void> {
    const timeoutMs = this.opts.startTimeoutMs ?? 20_000;
    const deadline = Date.now() + timeoutMs;
    let lastErr = 'no answer';
    let exited: string | undefined;
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      exited = `exited with ${signal ?? `code ${code}`}`;
    };
    child?.once('exit', onExit);
    try {
      while (Date.now() < deadline) {
        if (exited || (child && (child.exitCode !== null || child.signalCode !== null))) {
          exited ??= `exited with ${child?.signalCode ?? `code ${child?.exitCode}`}`;
          break;
        }
        if (this.stopping) throw new Error('Janus was stopped while starting');
        let client: JanusClient | undefined;
        try {
          client = await JanusClient.connect(this.url, { apiSecret: this.apiSecret, connectTimeoutMs: 1000, requestTimeoutMs: 2000 });
          const info = await client.info();
          if (info.janus === 'server_info') return;
          lastErr = `unexpected answer ${String(info.janus)}`;
        } catch (err) {
          lastErr = (err as Error).message;
        } finally {
          await client?.close().catch(() => {});
        }
        await sleep(150);
      }
    } finally {
      child?.off('exit', onExit);
    }
    // Give the log pipes a moment to deliver the last lines of a dead process.
    if (child) await sleep(50);
    const what = child ? (exited ? `Janus ${exited} before its API answered` : `Janus's API at ${this.url} did not answer within ${timeoutMs} ms (${lastErr})`) : `the external Janus at ${this.url} did not answer within ${timeoutMs} ms (${lastErr})`;
    const tail = this.lines.filter((l) => !/has been disabled, skipping/.test(l)).slice(-15);
    throw new Error(tail.length ? `${what}; last log lines:\n  ${tail.join('\n  ')}` : what);
  }

  private killChild(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const grace = (this.opts as JanusSupervisorOptions).stopGraceMs ?? 3000;
    return new Promise((resolve) => {
      const killTimer = setTimeout(() => {
        this.log.warn({ janusPid: child.pid }, 'Janus ignored SIGTERM; sending SIGKILL');
        child.kill('SIGKILL');
      }, grace);
      child.once('exit', () => {
        clearTimeout(killTimer);
        resolve();
      });
      if (!child.kill('SIGTERM')) {
        clearTimeout(killTimer);
        resolve();
      }
    });
  }

  /** Stops Janus (SIGTERM, then SIGKILL) and any pending restart. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.isReady = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.starting?.catch(() => {});
    const child = this.child;
    if (child) await this.killChild(child);
    this.child = undefined;
  }
}
