/** SDP for SIP media legs: SDES crypto attributes, the SRTP security policy, offer/answer. */
export { parseCryptoAttribute, formatCryptoAttribute, type CryptoAttribute, type CryptoKeyParam, type CryptoSessionParams } from './crypto-attr.js';
export { SdpError, warningHeader, type SdpErrorCode, type SdpRefusal, type RefusalReason } from './errors.js';
export { parseProfileLevelId, formatProfileLevelId, answerProfileLevelId, type H264Profile, type ProfileLevelId } from './h264.js';
export { negotiate, renegotiate } from './negotiate.js';
export { buildOffer, readAnswer, reoffer, type PendingOffer } from './offer.js';
export { parseSdp, type Direction, type ParsedSdp } from './parse.js';
export { checkOfferSecurity, checkAnswerSecurity, type SecurityPolicy, type OfferSecurity, type AnswerSecurity, type MediaSecurity } from './policy.js';
export { SUITE_KEY_LENGTHS, type SrtpSuite, type SrtpKeyParams } from './suites.js';
export type * from './types.js';
