/**
 * SRTP and SRTCP (RFC 3711) on node:crypto for SDES-keyed endpoints: AES-CM with HMAC-SHA1
 * (80/32-bit tags, AES-128 and AES-256 per RFC 6188) and AES-GCM (RFC 7714), per-SSRC
 * rollover counters with RFC 3711 index estimation, replay windows, MKI and key lifetimes.
 */
export { SrtpContext, generateKeyParams, DEFAULT_REPLAY_WINDOW, type SrtpKeyParams, type SrtpStats } from './context.js';
export { SrtpError, type SrtpErrorCode } from './errors.js';
export { SRTP_SUITES, isSrtpSuite, type SrtpSuite, type SrtpSuiteInfo } from './suites.js';
