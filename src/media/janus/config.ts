/**
 * Writes the complete configuration directory of an embedded Janus (1.1.x) under
 * `<dataDir>/janus/`: the core (janus.jcfg), the WebSocket transport (API and Admin API on
 * loopback only) and the two plugins knude uses, VideoRoom and AudioBridge, without static
 * rooms and with an admin_key so that only knude can create rooms. Every other plugin,
 * transport, logger and event handler found in the library folders is disabled.
 *
 * The files are libconfig ("jcfg"); values are escaped here, never interpolated raw.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface JanusConfig {
  /** knude's data directory; the Janus configuration goes to `<dataDir>/janus/`. */
  dataDir: string;
  /** Janus API over WebSocket, bound to 127.0.0.1. */
  wsPort: number;
  /** Admin API over WebSocket, bound to 127.0.0.1. */
  adminWsPort: number;
  adminSecret: string;
  /** When set, every Janus API request must carry it (`apisecret`). */
  apiSecret?: string;
  /** The plugins' admin_key: only requests carrying it may create rooms. Defaults to adminSecret. */
  adminKey?: string;
  /** UDP ports for ICE/RTP/RTCP (also the plain-RTP sockets of remote publishers / RTP participants). */
  rtpPortRange: [number, number];
  /**
   * UDP ports of the AudioBridge's plain-RTP participants (default: rtpPortRange; binds skip
   * ports in use). The VideoRoom has no such setting in 1.1.x: remote publishers get ports
   * from 10000-60000 unless add_remote_publisher names them.
   */
  pluginRtpPortRange?: [number, number];
  /** Janus's nat.ice_enforce_list: the only interfaces/addresses to gather candidates on. */
  iceEnforceList?: string;
  /** Janus's nat.nat_1_1_mapping: the public address(es) put in host candidates. */
  nat1to1?: string;
  /** With nat1to1: keep the private host candidate too (Janus's keep_private_host). */
  keepPrivateHost?: boolean;
  /** Janus's general.interface: the address announced in SDP c= lines when ICE has none. */
  interface?: string;
  /** STUN server (host:port) for server-reflexive candidates. */
  stunServer?: string;
  /** Janus debug level 0..7 (4 = info). */
  debugLevel: number;
  serverName?: string;
  /** Seconds without a keepalive before Janus drops a session (default 60). */
  sessionTimeout?: number;
  /** Janus's media.no_media_timer in seconds (default 1). */
  noMediaTimer?: number;
  /** Where the Janus libraries are (default: the Debian location, or /opt/janus/lib/janus). */
  libDir?: string;
}

/** Plugins and transports knude loads; everything else found is disabled. */
export const JANUS_PLUGINS_USED = ['libjanus_videoroom.so', 'libjanus_audiobridge.so'] as const;
export const JANUS_TRANSPORTS_USED = ['libjanus_websockets.so'] as const;

const LIB_DIR_CANDIDATES = ['/usr/lib/x86_64-linux-gnu/janus', '/usr/lib/aarch64-linux-gnu/janus', '/usr/lib/janus', '/usr/local/lib/janus', '/opt/janus/lib/janus'];

/** The first folder that has Janus's plugins/ in it. */
export function findJanusLibDir(): string {
  for (const dir of LIB_DIR_CANDIDATES) if (existsSync(path.join(dir, 'plugins', 'libjanus_videoroom.so'))) return dir;
  return LIB_DIR_CANDIDATES[0];
}

export interface JanusConfigFiles {
  /** The folder to pass as `--configs-folder`. */
  dir: string;
  /** janus.jcfg, to pass as `--config`. */
  mainFile: string;
  files: Record<string, string>;
}

/** A libconfig string literal. */
export function jcfgString(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(value)) throw new Error(`Janus config value may not contain control characters: ${JSON.stringify(value)}`);
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

type Value = string | number | boolean | string[];

function jcfgValue(v: Value): string {
  if (typeof v === 'string') return jcfgString(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`Janus config number is not finite: ${v}`);
    return String(Math.trunc(v));
  }
  return `[${v.map((s) => jcfgString(s)).join(', ')}]`;
}

/** Renders `{ section: { key: value } }` as jcfg; undefined values are left out. */
export function renderJcfg(sections: Record<string, Record<string, Value | undefined>>, header?: string): string {
  const out: string[] = [];
  if (header) out.push(...header.split('\n').map((l) => `# ${l}`), '');
  for (const [name, entries] of Object.entries(sections)) {
    out.push(`${name}: {`);
    for (const [k, v] of Object.entries(entries)) if (v !== undefined) out.push(`\t${k} = ${jcfgValue(v)}`);
    out.push('}', '');
  }
  return out.join('\n');
}

function listSharedObjects(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.so')).sort();
  } catch {
    return [];
  }
}

function disableList(dir: string, keep: readonly string[]): string | undefined {
  const off = listSharedObjects(dir).filter((f) => !keep.includes(f));
  return off.length > 0 ? off.join(',') : undefined;
}

function validate(c: JanusConfig): void {
  const port = (n: number, what: string) => {
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`Janus config: ${what} must be a port number, got ${n}`);
  };
  port(c.wsPort, 'wsPort');
  port(c.adminWsPort, 'adminWsPort');
  if (c.wsPort === c.adminWsPort) throw new Error('Janus config: wsPort and adminWsPort must differ');
  const [min, max] = c.rtpPortRange;
  port(min, 'rtpPortRange[0]');
  port(max, 'rtpPortRange[1]');
  if (min > max) throw new Error(`Janus config: rtpPortRange ${min}-${max} is empty`);
  if (!c.adminSecret) throw new Error('Janus config: adminSecret is required');
  if (!Number.isInteger(c.debugLevel) || c.debugLevel < 0 || c.debugLevel > 7) throw new Error(`Janus config: debugLevel must be 0..7, got ${c.debugLevel}`);
}

/** The file contents, without touching the disk (see writeJanusConfig). */
export function renderJanusConfig(c: JanusConfig): JanusConfigFiles {
  validate(c);
  const dir = path.resolve(c.dataDir, 'janus');
  const libDir = c.libDir ?? findJanusLibDir();
  const adminKey = c.adminKey ?? c.adminSecret;
  const header = 'Written by knude at every start; edits are overwritten. See src/media/janus/config.ts.';

  const main = renderJcfg(
    {
      general: {
        configs_folder: dir,
        plugins_folder: path.join(libDir, 'plugins'),
        transports_folder: path.join(libDir, 'transports'),
        events_folder: path.join(libDir, 'events'),
        loggers_folder: path.join(libDir, 'loggers'),
        log_to_stdout: true,
        debug_level: c.debugLevel,
        debug_timestamps: false,
        debug_colors: false,
        debug_locks: false,
        server_name: c.serverName ?? 'knude',
        session_timeout: c.sessionTimeout ?? 60,
        reclaim_session_timeout: 0,
        candidates_timeout: 45,
        admin_secret: c.adminSecret,
        api_secret: c.apiSecret,
        token_auth: false,
        interface: c.interface,
        hide_dependencies: true,
        protected_folders: ['/bin', '/boot', '/dev', '/etc', '/initrd', '/lib', '/lib32', '/lib64', '/proc', '/sbin', '/sys', '/usr', '/var', '/opt'],
      },
      certificates: {
        // No certificate given: Janus makes a self-signed one per start, which is what
        // DTLS-SRTP expects (the fingerprint travels in the SDP).
        dtls_accept_selfsigned: true,
      },
      media: {
        ipv6: false,
        rtp_port_range: `${c.rtpPortRange[0]}-${c.rtpPortRange[1]}`,
        no_media_timer: c.noMediaTimer ?? 1,
        slowlink_threshold: 4,
        twcc_period: 200,
        nack_optimizations: false,
      },
      nat: {
        nice_debug: false,
        full_trickle: false,
        ice_lite: false,
        ice_tcp: false,
        ignore_mdns: true,
        stun_server: c.stunServer?.split(':')[0],
        stun_port: c.stunServer?.includes(':') ? Number(c.stunServer.split(':')[1]) : undefined,
        nat_1_1_mapping: c.nat1to1,
        keep_private_host: c.nat1to1 ? !!c.keepPrivateHost : undefined,
        ice_enforce_list: c.iceEnforceList,
        ice_ignore_list: c.iceEnforceList ? undefined : 'vmnet',
        ignore_unreachable_ice_server: true,
      },
      plugins: { disable: disableList(path.join(libDir, 'plugins'), JANUS_PLUGINS_USED) },
      transports: { disable: disableList(path.join(libDir, 'transports'), JANUS_TRANSPORTS_USED) },
      loggers: { disable: disableList(path.join(libDir, 'loggers'), []) },
      events: { broadcast: false, disable: disableList(path.join(libDir, 'events'), []) },
    },
    header,
  );

  const websockets = renderJcfg(
    {
      general: {
        json: 'compact',
        pingpong_trigger: 30,
        pingpong_timeout: 10,
        ws: true,
        ws_port: c.wsPort,
        ws_ip: '127.0.0.1',
        wss: false,
        ws_logging: 'err,warn',
        ws_acl: '127.',
      },
      admin: {
        admin_ws: true,
        admin_ws_port: c.adminWsPort,
        admin_ws_ip: '127.0.0.1',
        admin_wss: false,
        admin_ws_acl: '127.',
      },
      cors: {},
      certificates: {},
    },
    header,
  );

  const videoroom = renderJcfg(
    {
      general: {
        admin_key: adminKey,
        lock_rtp_forward: true,
        string_ids: false,
        events: false,
      },
    },
    header,
  );

  const audiobridge = renderJcfg(
    {
      general: {
        admin_key: adminKey,
        lock_rtp_forward: true,
        lock_play_file: true,
        string_ids: false,
        events: false,
        // Plain-RTP participants (SIP legs, relayed by knude) use loopback sockets.
        local_ip: '127.0.0.1',
        rtp_port_range: `${(c.pluginRtpPortRange ?? c.rtpPortRange)[0]}-${(c.pluginRtpPortRange ?? c.rtpPortRange)[1]}`,
      },
    },
    header,
  );

  return {
    dir,
    mainFile: path.join(dir, 'janus.jcfg'),
    files: {
      'janus.jcfg': main,
      'janus.transport.websockets.jcfg': websockets,
      'janus.plugin.videoroom.jcfg': videoroom,
      'janus.plugin.audiobridge.jcfg': audiobridge,
    },
  };
}

/** Writes the configuration directory (mode 0700, files 0600: it holds the secrets). */
export function writeJanusConfig(c: JanusConfig): JanusConfigFiles {
  const rendered = renderJanusConfig(c);
  mkdirSync(rendered.dir, { recursive: true, mode: 0o700 });
  for (const [name, text] of Object.entries(rendered.files)) writeFileSync(path.join(rendered.dir, name), text, { mode: 0o600 });
  return rendered;
}
