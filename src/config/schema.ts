/**
 * The one typed configuration of a knude node. Defaults are the embedded single-node setup
 * bound to loopback; a YAML/JSON file overrides them, and KNUDE_* environment variables
 * override the file (see load.ts). No other module reads process.env.
 */
import { defaultApiConfig, type ApiConfig } from '../api/v1/config.js';
import { defaultCapacityConfig, type CapacityConfig } from '../capacity/config.js';
import { defaultGatekeeperConfig, type GatekeeperConfig } from '../h323/config.js';

export type SipTransport = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface ListenSpec {
  transport: SipTransport;
  address: string;
  port: number;
}

export interface KnudeConfig {
  node: {
    /** Name of this node in logs, metrics and call records. */
    name: string;
    /** Where the embedded store, generated certificates and other state live. */
    dataDir: string;
  };
  log: {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
    /** JSON lines, or human-readable; 'auto' means pretty on a TTY. */
    format: 'json' | 'pretty' | 'auto';
  };
  sip: {
    /**
     * 'embedded': knude runs its own drachtio-protocol SIP server in-process.
     * 'drachtio': the app connects to an external drachtio-server (docker/compose.yaml).
     */
    server: 'embedded' | 'drachtio';
    drachtio: { host: string; port: number; secret: string };
    /** Where the embedded server's drachtio-protocol port listens (loopback only). */
    embedded: { controlAddress: string; controlPort: number; secret: string };
    listen: ListenSpec[];
    /** Address put in Via/Contact instead of the bound one when the node sits behind NAT. */
    externalAddress: string | null;
    tls: { certFile: string | null; keyFile: string | null; minVersion: 'TLSv1.2' | 'TLSv1.3' };
    /** SIP domain of this node: the digest realm and the domain of its accounts' AORs. */
    domain: string;
    /** Largest SIP message accepted on any transport; larger ones get 513 or the connection closed. */
    maxMessageBytes: number;
    userAgent: string;
  };
  registrar: {
    minExpires: number;
    maxExpires: number;
    defaultExpires: number;
    nonceLifetimeSeconds: number;
    /** Secret the stateless digest nonces are signed with; generated and kept in dataDir when null. */
    nonceSecret: string | null;
    algorithms: Array<'SHA-256' | 'MD5'>;
  };
  calls: {
    /** How long a forked INVITE may ring before the caller gets 408/480. */
    ringTimeoutSeconds: number;
    /** A neighbour zone's target that has not rung within this time is skipped for the next one. */
    trunkAttemptTimeoutSeconds: number;
    /**
     * Bridged calls (endpoint to endpoint, to neighbour zones) must offer and answer encrypted
     * media (media.sip.srtpSuites, or DTLS-SRTP end to end); others get 488. Room calls always do.
     */
    requireSrtp: boolean;
    /** Session interval granted to endpoints that support RFC 4028 session timers. */
    sessionExpiresSeconds: number;
    /** Shorter intervals are answered 422 with this Min-SE (RFC 4028 says at least 90). */
    minSessionExpiresSeconds: number;
  };
  rooms: {
    /** Wrong PINs a SIP endpoint may enter (DTMF) before its call is ended. */
    sipPinAttempts: number;
    /** How long a SIP endpoint has to enter a PIN. */
    sipPinTimeoutSeconds: number;
    /**
     * PIN guessing across calls: one address may get this many PINs wrong for one room in any
     * pinFailureWindowSeconds, then it may try no more until the oldest of them is that old.
     */
    pinFailuresPerAddress: number;
    pinFailureWindowSeconds: number;
  };
  media: {
    /**
     * 'embedded': knude writes Janus's configuration, starts it and restarts it when it dies.
     * 'external': a Janus run by the operator at externalUrl. 'off': no rooms on this node.
     */
    janus: 'embedded' | 'external' | 'off';
    externalUrl: string | null;
    /** UDP ports Janus uses for media (ICE/DTLS-SRTP and the loopback legs of SIP relays). */
    rtpPortMin: number;
    rtpPortMax: number;
    /** Interfaces or addresses Janus gathers ICE candidates on (Janus's ice_enforce_list). */
    iceEnforceList: string | null;
    /** Public address for ICE when Janus sits behind 1:1 NAT (Janus's nat_1_1_mapping). */
    nat1to1: string | null;
    /** The SRTP relay for SIP endpoints (SDES keys; Janus gets plain RTP on loopback). */
    sip: {
      /** Address the relay's RTP sockets bind to: where endpoints send media. */
      address: string;
      /** Address put in the SDP c= line when it differs (1:1 NAT); null: `address`. */
      advertisedAddress: string | null;
      /** UDP ports of the relay (open them in the firewall); pairs of RTP (even) and RTCP. */
      rtpPortMin: number;
      rtpPortMax: number;
      /** SRTP suites SIP legs may use, preferred first; never below AES-128, never NULL. */
      srtpSuites: Array<'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32' | 'AES_256_CM_HMAC_SHA1_80' | 'AEAD_AES_128_GCM' | 'AEAD_AES_256_GCM'>;
      /** A call whose endpoint sends no media (RTP or RTCP) for this long is ended (not while on hold). */
      mediaTimeoutSeconds: number;
    };
  };
  zones: {
    /** How often every neighbour zone target (and internet gateway target) gets a SIP OPTIONS. */
    probeIntervalSeconds: number;
    probeTimeoutSeconds: number;
    /** Consecutive failed probes before a target is taken out of routing. */
    failuresToDown: number;
  };
  /** Ports, licences and media capacity (src/capacity/config.ts has every field). */
  capacity: CapacityConfig;
  /** The administration and booking API (HTTPS, TLS 1.3, mutual TLS): src/api/v1/config.ts. */
  api: ApiConfig;
  /** The H.323 gatekeeper (RAS): src/h323/config.ts. */
  h323: GatekeeperConfig;
  http: {
    address: string;
    port: number;
    /**
     * Addresses of reverse proxies in front of the join page (browsers need HTTPS for their
     * camera, so production has one). From these, the client's address is read from
     * X-Forwarded-For; from anyone else, X-Forwarded-For is ignored.
     */
    trustedProxies: string[];
  };
  store: { sqlitePath: string };
  reports: {
    /** IANA time zone of the reports' calendar months and days (e.g. Europe/Copenhagen). */
    timeZone: string;
  };
}

export const defaultConfig: KnudeConfig = {
  node: { name: 'knude-1', dataDir: 'data' },
  log: { level: 'info', format: 'auto' },
  sip: {
    server: 'embedded',
    drachtio: { host: '127.0.0.1', port: 9022, secret: 'cymru' },
    embedded: { controlAddress: '127.0.0.1', controlPort: 9022, secret: '' },
    listen: [
      { transport: 'udp', address: '127.0.0.1', port: 5060 },
      { transport: 'tcp', address: '127.0.0.1', port: 5060 },
      { transport: 'tls', address: '127.0.0.1', port: 5061 },
      { transport: 'ws', address: '127.0.0.1', port: 5062 },
      { transport: 'wss', address: '127.0.0.1', port: 5063 },
    ],
    externalAddress: null,
    tls: { certFile: null, keyFile: null, minVersion: 'TLSv1.2' },
    domain: 'knude.local',
    maxMessageBytes: 65_535,
    userAgent: 'knude',
  },
  registrar: {
    minExpires: 60,
    maxExpires: 3600,
    defaultExpires: 600,
    nonceLifetimeSeconds: 300,
    nonceSecret: null,
    algorithms: ['SHA-256', 'MD5'],
  },
  calls: { ringTimeoutSeconds: 60, trunkAttemptTimeoutSeconds: 5, requireSrtp: true, sessionExpiresSeconds: 1800, minSessionExpiresSeconds: 90 },
  rooms: { sipPinAttempts: 3, sipPinTimeoutSeconds: 30, pinFailuresPerAddress: 10, pinFailureWindowSeconds: 600 },
  media: {
    janus: 'embedded',
    externalUrl: null,
    rtpPortMin: 20000,
    rtpPortMax: 20999,
    iceEnforceList: null,
    nat1to1: null,
    sip: {
      address: '127.0.0.1',
      advertisedAddress: null,
      rtpPortMin: 21000,
      rtpPortMax: 21999,
      // Strongest first: an endpoint offering several suites gets the best one it has.
      srtpSuites: ['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_256_CM_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'],
      mediaTimeoutSeconds: 30,
    },
  },
  capacity: defaultCapacityConfig,
  api: defaultApiConfig,
  h323: defaultGatekeeperConfig,
  zones: { probeIntervalSeconds: 30, probeTimeoutSeconds: 5, failuresToDown: 2 },
  http: { address: '127.0.0.1', port: 8080, trustedProxies: [] },
  store: { sqlitePath: 'knude.db' },
  reports: { timeZone: 'UTC' },
};
