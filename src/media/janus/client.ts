/**
 * A small client for Janus's WebSocket API (subprotocol `janus-protocol`) and Admin API
 * (`janus-admin-protocol`): one socket, requests matched to answers by `transaction`,
 * sessions with keepalives, plugin handles with their events.
 *
 * A plugin `message` resolves with the plugin's synchronous answer (`success` + plugindata)
 * or with the first asynchronous `event` carrying the request's transaction (Janus sends
 * `ack` first). A plugin answer with `error_code` rejects with a JanusError carrying the
 * plugin's numeric code (e.g. 426 "No such room" from the VideoRoom); core errors
 * (`janus: "error"`) reject the same way with the core codes (458 session not found, ...).
 *
 * No automatic reconnection: when the socket closes every session is marked lost, pending
 * requests reject with a JanusConnectionError, and `close` is emitted. Whoever owns the
 * client (the media plane) decides when to connect again.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import WebSocket from 'ws';

/** Janus core API error codes (apierror.h). */
export const JanusCoreError = {
  UNAUTHORIZED: 403,
  UNAUTHORIZED_PLUGIN: 405,
  TRANSPORT_SPECIFIC: 450,
  MISSING_REQUEST: 452,
  UNKNOWN_REQUEST: 453,
  INVALID_JSON: 454,
  INVALID_JSON_OBJECT: 455,
  MISSING_MANDATORY_ELEMENT: 456,
  INVALID_REQUEST_PATH: 457,
  SESSION_NOT_FOUND: 458,
  HANDLE_NOT_FOUND: 459,
  PLUGIN_NOT_FOUND: 460,
  PLUGIN_ATTACH: 461,
  PLUGIN_MESSAGE: 462,
  PLUGIN_DETACH: 463,
  JSEP_UNKNOWN_TYPE: 464,
  JSEP_INVALID_SDP: 465,
  TRICKLE_INVALID_STREAM: 466,
  INVALID_ELEMENT_TYPE: 467,
  SESSION_CONFLICT: 468,
  UNEXPECTED_ANSWER: 469,
  TOKEN_NOT_FOUND: 470,
  WEBRTC_STATE: 471,
  NOT_ACCEPTING_SESSIONS: 472,
  UNKNOWN: 490,
} as const;

/** VideoRoom plugin error codes (janus_videoroom.c). */
export const VideoRoomError = {
  NO_MESSAGE: 421,
  INVALID_JSON: 422,
  INVALID_REQUEST: 423,
  JOIN_FIRST: 424,
  ALREADY_JOINED: 425,
  NO_SUCH_ROOM: 426,
  ROOM_EXISTS: 427,
  NO_SUCH_FEED: 428,
  MISSING_ELEMENT: 429,
  INVALID_ELEMENT: 430,
  INVALID_SDP_TYPE: 431,
  PUBLISHERS_FULL: 432,
  UNAUTHORIZED: 433,
  ALREADY_PUBLISHED: 434,
  NOT_PUBLISHED: 435,
  ID_EXISTS: 436,
  INVALID_SDP: 437,
  UNKNOWN_ERROR: 499,
} as const;

/** AudioBridge plugin error codes (janus_audiobridge.c). */
export const AudioBridgeError = {
  NO_MESSAGE: 480,
  INVALID_JSON: 481,
  INVALID_REQUEST: 482,
  MISSING_ELEMENT: 483,
  INVALID_ELEMENT: 484,
  NO_SUCH_ROOM: 485,
  ROOM_EXISTS: 486,
  NOT_JOINED: 487,
  LIBOPUS_ERROR: 488,
  UNAUTHORIZED: 489,
  ID_EXISTS: 490,
  ALREADY_JOINED: 491,
  NO_SUCH_USER: 492,
  INVALID_SDP: 493,
  NO_SUCH_GROUP: 494,
  UNKNOWN_ERROR: 499,
} as const;

/** An error answer from Janus: the core's or a plugin's numeric code and its reason. */
export class JanusError extends Error {
  override name = 'JanusError';
  constructor(
    readonly code: number,
    readonly reason: string,
    /** 'core' for `janus: "error"`, else the plugin package (e.g. janus.plugin.videoroom). */
    readonly source: string = 'core',
  ) {
    super(`Janus ${source === 'core' ? '' : `${source} `}error ${code}: ${reason}`);
  }
}

/** The socket is not open, closed under a request, or Janus did not answer in time. */
export class JanusConnectionError extends Error {
  override name = 'JanusConnectionError';
}

export interface Jsep {
  type: 'offer' | 'answer';
  sdp: string;
  trickle?: boolean;
  e2ee?: boolean;
}

export interface IceCandidate {
  candidate?: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

/** What a plugin answered (synchronously or in the first event for the transaction). */
export interface PluginResponse<T = Record<string, unknown>> {
  plugin: string;
  data: T;
  jsep?: Jsep;
}

export interface PluginEvent {
  plugin: string;
  data: Record<string, unknown>;
  jsep?: Jsep;
  transaction?: string;
}

export interface MediaEvent {
  type: 'audio' | 'video';
  receiving: boolean;
  mid?: string;
  substream?: number;
  seconds?: number;
}

export interface SlowlinkEvent {
  uplink: boolean;
  media?: 'audio' | 'video';
  mid?: string;
  lost?: number;
  nacks?: number;
}

export type HandleEvents = {
  /** An asynchronous plugin event that answers none of our requests. */
  event: [PluginEvent];
  /** ICE and DTLS are up: media can flow. */
  webrtcup: [];
  media: [MediaEvent];
  slowlink: [SlowlinkEvent];
  hangup: [{ reason: string }];
  detached: [];
  /** Janus trickling its own candidates (only in full-trickle mode). */
  trickle: [{ candidate?: IceCandidate; completed?: boolean }];
};

export type SessionEvents = {
  /** The session is gone: the socket closed, Janus timed it out, or it was destroyed. */
  lost: [{ reason: 'closed' | 'timeout' | 'destroyed' }];
};

export type ClientEvents = {
  /** The socket closed; every session of this client was marked lost before. */
  close: [{ code: number; reason: string; expected: boolean }];
};

export interface JanusClientOptions {
  apiSecret?: string;
  /** Per-request deadline (default 15 s). */
  requestTimeoutMs?: number;
  /** Socket open deadline (default 5 s). */
  connectTimeoutMs?: number;
  /** Session keepalive period (default 25 s; Janus's session_timeout defaults to 60 s). */
  keepaliveMs?: number;
  log?: Logger;
}

type Json = Record<string, unknown>;

interface Pending {
  resolve: (msg: Json) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  /** `ack` is the final answer (keepalive, trickle); else wait for success/event/error. */
  ackIsFinal: boolean;
  what: string;
}

function newTransaction(): string {
  return randomBytes(9).toString('base64url');
}

/** The shared part of the API and Admin API connections: one socket, transactions. */
abstract class JanusSocket<E extends Record<keyof E, unknown[]>> extends EventEmitter<E> {
  protected ws: WebSocket | undefined;
  protected readonly pending = new Map<string, Pending>();
  protected closing = false;
  protected readonly requestTimeoutMs: number;

  protected constructor(
    readonly url: string,
    protected readonly opts: { requestTimeoutMs?: number; log?: Logger },
  ) {
    super();
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 15_000;
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  protected open(protocol: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, protocol, { handshakeTimeout: timeoutMs, perMessageDeflate: false });
      this.ws = ws;
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        ws.terminate();
        reject(new JanusConnectionError(`Janus at ${this.url} did not accept a WebSocket within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.once('open', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve();
      });
      ws.on('error', (err) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(new JanusConnectionError(`cannot connect to Janus at ${this.url}: ${err.message}`));
        } else {
          this.opts.log?.debug({ err: err.message, url: this.url }, 'janus socket error');
        }
      });
      ws.on('message', (raw) => {
        let msg: Json;
        try {
          msg = JSON.parse(raw.toString()) as Json;
        } catch {
          this.opts.log?.warn({ url: this.url }, 'unreadable message from Janus');
          return;
        }
        this.onMessage(msg);
      });
      ws.on('close', (code, reason) => {
        clearTimeout(timer);
        if (!settled) {
          settled = true;
          reject(new JanusConnectionError(`Janus at ${this.url} closed the WebSocket while connecting (${code})`));
        }
        const err = new JanusConnectionError(`the Janus WebSocket closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`);
        for (const [tx, p] of this.pending) {
          clearTimeout(p.timer);
          this.pending.delete(tx);
          p.reject(err);
        }
        this.onClose(code, reason.toString());
      });
    });
  }

  /** Sends `body` with a fresh transaction; resolves with the final answer. */
  protected send(body: Json, ackIsFinal = false, timeoutMs = this.requestTimeoutMs): Promise<Json> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new JanusConnectionError(`not connected to Janus at ${this.url}`));
    const transaction = newTransaction();
    const what = String(body.janus);
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(transaction);
        reject(new JanusConnectionError(`Janus did not answer "${what}"${body.body ? ` (${String((body.body as Json).request)})` : ''} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(transaction, { resolve, reject, timer, ackIsFinal, what });
      ws.send(JSON.stringify({ ...body, transaction }), (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(transaction);
        reject(new JanusConnectionError(`cannot send to Janus: ${err.message}`));
      });
    });
  }

  /** Routes an answer to its request; returns false when it is not one. */
  protected settle(msg: Json): boolean {
    const tx = typeof msg.transaction === 'string' ? msg.transaction : undefined;
    if (!tx) return false;
    const p = this.pending.get(tx);
    if (!p) return false;
    if (msg.janus === 'ack' && !p.ackIsFinal) return true;
    clearTimeout(p.timer);
    this.pending.delete(tx);
    if (msg.janus === 'error') {
      const e = (msg.error ?? {}) as { code?: number; reason?: string };
      p.reject(new JanusError(Number(e.code ?? 0), String(e.reason ?? 'unknown error')));
      return true;
    }
    const pd = msg.plugindata as { plugin?: string; data?: Json } | undefined;
    const data = pd?.data;
    if (data && data.error_code !== undefined) {
      p.reject(new JanusError(Number(data.error_code), String(data.error ?? 'plugin error'), pd?.plugin ?? 'plugin'));
      return true;
    }
    p.resolve(msg);
    return true;
  }

  protected abstract onMessage(msg: Json): void;
  protected abstract onClose(code: number, reason: string): void;

  /** Closes the socket; pending requests reject. */
  close(): Promise<void> {
    this.closing = true;
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      ws.close(1000, 'bye');
    });
  }
}

/** One connection to Janus's API. */
export class JanusClient extends JanusSocket<ClientEvents> {
  readonly sessions = new Map<number, JanusSession>();
  readonly keepaliveMs: number;

  private constructor(url: string, readonly options: JanusClientOptions) {
    super(url, options);
    this.keepaliveMs = options.keepaliveMs ?? 25_000;
  }

  static async connect(url: string, options: JanusClientOptions = {}): Promise<JanusClient> {
    const c = new JanusClient(url, options);
    await c.open('janus-protocol', options.connectTimeoutMs ?? 5000);
    return c;
  }

  /** Low-level request: adds apisecret, resolves with the final answer. */
  request(body: Json, opts: { ackIsFinal?: boolean; timeoutMs?: number } = {}): Promise<Json> {
    const withSecret = this.options.apiSecret ? { ...body, apisecret: this.options.apiSecret } : body;
    return this.send(withSecret, opts.ackIsFinal ?? false, opts.timeoutMs ?? this.requestTimeoutMs);
  }

  /** Janus's `info` (server name, version, plugins, transports). */
  async info(): Promise<Json> {
    return this.request({ janus: 'info' });
  }

  async createSession(): Promise<JanusSession> {
    const res = await this.request({ janus: 'create' });
    const id = Number((res.data as Json | undefined)?.id);
    if (!Number.isSafeInteger(id)) throw new JanusError(0, `Janus answered "create" without a usable session id`);
    const s = new JanusSession(this, id);
    this.sessions.set(id, s);
    return s;
  }

  protected onMessage(msg: Json): void {
    if (this.settle(msg)) return;
    const sessionId = Number(msg.session_id);
    const session = this.sessions.get(sessionId);
    if (!session) {
      this.options.log?.debug({ janus: msg.janus, session: msg.session_id }, 'Janus event for an unknown session');
      return;
    }
    session.dispatch(msg);
  }

  protected onClose(code: number, reason: string): void {
    for (const s of [...this.sessions.values()]) s.markLost('closed');
    this.sessions.clear();
    this.emit('close', { code, reason, expected: this.closing });
  }
}

/** A Janus session: keeps itself alive while it exists. */
export class JanusSession extends EventEmitter<SessionEvents> {
  readonly handles = new Map<number, JanusHandle>();
  private keepalive: NodeJS.Timeout | undefined;
  private gone = false;

  constructor(
    readonly client: JanusClient,
    readonly id: number,
  ) {
    super();
    this.keepalive = setInterval(() => {
      this.client.request({ janus: 'keepalive', session_id: this.id }, { ackIsFinal: true }).catch((err: Error) => {
        if (err instanceof JanusError && err.code === JanusCoreError.SESSION_NOT_FOUND) this.markLost('timeout');
      });
    }, client.keepaliveMs);
    this.keepalive.unref();
  }

  /** True once the session is gone (socket closed, timed out, destroyed). */
  get lost(): boolean {
    return this.gone;
  }

  async attach(plugin: string, opaqueId?: string): Promise<JanusHandle> {
    if (this.gone) throw new JanusConnectionError(`Janus session ${this.id} is gone`);
    const res = await this.client.request({ janus: 'attach', session_id: this.id, plugin, ...(opaqueId ? { opaque_id: opaqueId } : {}) });
    const id = Number((res.data as Json | undefined)?.id);
    if (!Number.isSafeInteger(id)) throw new JanusError(0, `Janus answered "attach" without a usable handle id`);
    const h = new JanusHandle(this, id, plugin);
    this.handles.set(id, h);
    return h;
  }

  /** Destroys the session in Janus (its handles with it). A session already gone is fine. */
  async destroy(): Promise<void> {
    if (this.gone) return;
    try {
      await this.client.request({ janus: 'destroy', session_id: this.id });
    } catch (err) {
      if (!(err instanceof JanusError && err.code === JanusCoreError.SESSION_NOT_FOUND) && !(err instanceof JanusConnectionError)) throw err;
    } finally {
      this.markLost('destroyed');
    }
  }

  /** @internal */
  dispatch(msg: Json): void {
    if (msg.janus === 'timeout') {
      this.markLost('timeout');
      return;
    }
    const handle = this.handles.get(Number(msg.sender));
    if (!handle) return;
    handle.dispatch(msg);
  }

  /** @internal */
  markLost(reason: 'closed' | 'timeout' | 'destroyed'): void {
    if (this.gone) return;
    this.gone = true;
    clearInterval(this.keepalive);
    this.keepalive = undefined;
    this.client.sessions.delete(this.id);
    for (const h of this.handles.values()) h.markDetached();
    this.handles.clear();
    this.emit('lost', { reason });
  }
}

/** A plugin handle in a session. */
export class JanusHandle extends EventEmitter<HandleEvents> {
  private isDetached = false;

  constructor(
    readonly session: JanusSession,
    readonly id: number,
    readonly plugin: string,
  ) {
    super();
  }

  get detached(): boolean {
    return this.isDetached || this.session.lost;
  }

  /**
   * Sends a plugin request (with an optional JSEP); resolves with the synchronous answer or
   * the first event for this transaction; a plugin error rejects with its JanusError.
   */
  async message<T = Record<string, unknown>>(body: Record<string, unknown>, jsep?: Jsep, opts: { timeoutMs?: number } = {}): Promise<PluginResponse<T>> {
    if (this.detached) throw new JanusConnectionError(`Janus handle ${this.id} is gone`);
    const res = await this.session.client.request(
      { janus: 'message', session_id: this.session.id, handle_id: this.id, body, ...(jsep ? { jsep } : {}) },
      { timeoutMs: opts.timeoutMs },
    );
    const pd = (res.plugindata ?? {}) as { plugin?: string; data?: T };
    return { plugin: pd.plugin ?? this.plugin, data: (pd.data ?? {}) as T, ...(res.jsep ? { jsep: res.jsep as Jsep } : {}) };
  }

  /** One ICE candidate, or null for end-of-candidates. */
  async trickle(candidate: IceCandidate | null): Promise<void> {
    if (this.detached) throw new JanusConnectionError(`Janus handle ${this.id} is gone`);
    const c = candidate === null || !candidate.candidate ? { completed: true } : candidate;
    await this.session.client.request({ janus: 'trickle', session_id: this.session.id, handle_id: this.id, candidate: c }, { ackIsFinal: true });
  }

  /** Tears down the PeerConnection, keeps the handle. */
  async hangup(): Promise<void> {
    if (this.detached) return;
    await this.session.client.request({ janus: 'hangup', session_id: this.session.id, handle_id: this.id });
  }

  async detach(): Promise<void> {
    if (this.detached) return;
    try {
      await this.session.client.request({ janus: 'detach', session_id: this.session.id, handle_id: this.id });
    } catch (err) {
      if (!(err instanceof JanusError && err.code === JanusCoreError.HANDLE_NOT_FOUND)) throw err;
    }
    this.markDetached();
  }

  /** @internal */
  dispatch(msg: Json): void {
    switch (msg.janus) {
      case 'event': {
        const pd = (msg.plugindata ?? {}) as { plugin?: string; data?: Json };
        this.emit('event', {
          plugin: pd.plugin ?? this.plugin,
          data: pd.data ?? {},
          ...(msg.jsep ? { jsep: msg.jsep as Jsep } : {}),
          ...(typeof msg.transaction === 'string' ? { transaction: msg.transaction } : {}),
        });
        return;
      }
      case 'webrtcup':
        this.emit('webrtcup');
        return;
      case 'media':
        this.emit('media', {
          type: msg.type as 'audio' | 'video',
          receiving: msg.receiving === true,
          ...(typeof msg.mid === 'string' ? { mid: msg.mid } : {}),
          ...(typeof msg.substream === 'number' ? { substream: msg.substream } : {}),
          ...(typeof msg.seconds === 'number' ? { seconds: msg.seconds } : {}),
        });
        return;
      case 'slowlink':
        this.emit('slowlink', {
          uplink: msg.uplink === true,
          ...(typeof msg.media === 'string' ? { media: msg.media as 'audio' | 'video' } : {}),
          ...(typeof msg.mid === 'string' ? { mid: msg.mid } : {}),
          ...(typeof msg.lost === 'number' ? { lost: msg.lost } : {}),
          ...(typeof msg.nacks === 'number' ? { nacks: msg.nacks } : {}),
        });
        return;
      case 'hangup':
        this.emit('hangup', { reason: String(msg.reason ?? 'hangup') });
        return;
      case 'detached':
        this.markDetached();
        return;
      case 'trickle': {
        const c = (msg.candidate ?? {}) as IceCandidate & { completed?: boolean };
        this.emit('trickle', c.completed ? { completed: true } : { candidate: c });
        return;
      }
      default:
        return;
    }
  }

  /** @internal */
  markDetached(): void {
    if (this.isDetached) return;
    this.isDetached = true;
    this.session.handles.delete(this.id);
    this.emit('detached');
  }
}

/** The WebRTC part of an Admin API handle_info, as far as knude reads it. */
export interface HandleWebrtcInfo {
  ice?: { state?: string; 'selected-pair'?: string };
  dtls?: { 'dtls-state'?: string; 'dtls-role'?: string; 'srtp-profile'?: string; valid?: boolean; ready?: boolean };
  [k: string]: unknown;
}

export interface HandleInfo {
  session_id: number;
  handle_id: number;
  plugin?: string;
  plugin_specific?: Record<string, unknown>;
  webrtc?: HandleWebrtcInfo;
  [k: string]: unknown;
}

/** One connection to Janus's Admin API (admin_secret on every request). */
export class JanusAdminClient extends JanusSocket<ClientEvents> {
  private constructor(
    url: string,
    private readonly adminSecret: string,
    opts: { requestTimeoutMs?: number; log?: Logger },
  ) {
    super(url, opts);
  }

  static async connect(url: string, adminSecret: string, opts: { requestTimeoutMs?: number; connectTimeoutMs?: number; log?: Logger } = {}): Promise<JanusAdminClient> {
    const c = new JanusAdminClient(url, adminSecret, opts);
    await c.open('janus-admin-protocol', opts.connectTimeoutMs ?? 5000);
    return c;
  }

  request(janus: string, extra: Json = {}): Promise<Json> {
    return this.send({ janus, ...extra, admin_secret: this.adminSecret });
  }

  async listSessions(): Promise<number[]> {
    const res = await this.request('list_sessions');
    return ((res.sessions ?? []) as number[]).map(Number);
  }

  async listHandles(sessionId: number): Promise<number[]> {
    const res = await this.request('list_handles', { session_id: sessionId });
    return ((res.handles ?? []) as number[]).map(Number);
  }

  async handleInfo(sessionId: number, handleId: number): Promise<HandleInfo> {
    const res = await this.request('handle_info', { session_id: sessionId, handle_id: handleId });
    return res.info as HandleInfo;
  }

  protected onMessage(msg: Json): void {
    this.settle(msg);
  }

  protected onClose(code: number, reason: string): void {
    this.emit('close', { code, reason, expected: this.closing });
  }
}
