/**
 * baresip (Debian package) as a real SIP video endpoint in tests: mandatory SRTP (SDES, its
 * `srtp-mand` media encryption), a sine tone as microphone and a generated picture as camera,
 * dialling one URI. Every run is bounded (-t) and killed on stop().
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function baresipAvailable(): string | undefined {
  const r = spawnSync('baresip', ['-h'], { encoding: 'utf8' });
  if (r.error) return 'baresip is not installed (Debian package baresip)';
  return undefined;
}

export interface BaresipOptions {
  /** What to dial, e.g. sip:+46405000@127.0.0.1:5060. */
  dial: string;
  /** Our SIP address of record (From). */
  aor: string;
  sipPort: number;
  audioCodecs?: string[];
  videoCodecs?: string[];
  /** 'srtp-mand' (SDES, default), 'dtls_srtp' (DTLS-SRTP), or '' for plain RTP (to test refusals). */
  mediaenc?: 'srtp-mand' | 'srtp' | 'dtls_srtp' | '';
  /** Hard limit of the run. */
  seconds: number;
  /** DTMF digits to send (RFC 4733) a while after the call is up. */
  dtmf?: string;
}

export interface Baresip {
  proc: ChildProcess;
  output(): string;
  /** Resolves when the output matches (or rejects after timeoutMs). */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
  /** Hangs up (quits baresip, which sends BYE) and waits for it to exit. */
  stop(): Promise<void>;
}

export function startBaresip(o: BaresipOptions): Baresip {
  const dir = mkdtempSync(join(tmpdir(), 'knude-baresip-'));
  const modules = ['stdio', 'g711', 'opus', 'ausine', 'fakevideo', 'vp8', 'avcodec', 'srtp', 'dtls_srtp', 'rtcpsummary'];
  writeFileSync(
    join(dir, 'config'),
    [
      'poll_method epoll',
      // baresip 1.0 also binds TLS on sipPort + 1 (it has no setting to leave TLS out):
      // take sipPort from freePort, which never hands that port out either
      `sip_listen 127.0.0.1:${o.sipPort}`,
      'audio_source ausine,440',
      'video_source fakevideo,nil',
      'video_display fakevideo,nil',
      'video_size 352x288',
      'video_bitrate 300000',
      'video_fps 15',
      'rtp_stats yes',
      'module_path /usr/lib/baresip/modules',
      ...modules.map((m) => `module ${m}.so`),
      'module_app account.so',
      'module_app menu.so',
      '',
    ].join('\n'),
  );
  const params = [
    'regint=0',
    ...(o.mediaenc === '' ? [] : [`mediaenc=${o.mediaenc ?? 'srtp-mand'}`]),
    ...(o.audioCodecs ? [`audio_codecs=${o.audioCodecs.join(',')}`] : []),
    ...(o.videoCodecs ? [`video_codecs=${o.videoCodecs.join(',')}`] : []),
  ];
  writeFileSync(join(dir, 'accounts'), `<${o.aor}>;${params.join(';')}\n`);
  writeFileSync(join(dir, 'contacts'), '');
  // stdbuf: baresip's stdout is block-buffered into a pipe; the test reads it as it happens.
  const proc = spawn('stdbuf', ['-o0', '-e0', 'baresip', '-f', dir, '-t', String(o.seconds), '-e', `/dial ${o.dial}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  if (o.dtmf) {
    const digits = o.dtmf;
    const t = setInterval(() => {
      if (!/Call established|call established/i.test(out)) return;
      clearInterval(t);
      // The menu module sends the keys typed on stdin as DTMF during a call.
      let i = 0;
      const k = setInterval(() => {
        if (i >= digits.length || proc.exitCode !== null) return clearInterval(k);
        proc.stdin!.write(digits[i++]);
      }, 300);
    }, 200);
  }
  return {
    proc,
    output: () => out,
    waitFor(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(out);
          if (m) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(m[0]);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`baresip (pid ${proc.pid}, exit ${proc.exitCode}/${proc.signalCode}): no ${re} within ${timeoutMs} ms; output:\n${out.slice(-3000)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.stdin!.write('q');
        const t = setTimeout(() => proc.kill('SIGKILL'), 4000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}
