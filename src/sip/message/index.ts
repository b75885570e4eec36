/** The RFC 3261 message layer: parsing, serialising, stream framing and the structured header helpers. */
export { SipParseError, type SipSalvage } from './errors.js';
export { SipHeaders } from './headers.js';
export { canonicalHeaderName, LIST_HEADERS } from './names.js';
export { parseMessage, DEFAULT_MAX_MESSAGE_SIZE } from './parse.js';
export { serializeMessage, createRequest, createResponse } from './serialize.js';
export { reasonPhrase } from './reasons.js';
export { parseUri, formatUri, type SipUri } from './uri.js';
export { parseNameAddr, formatNameAddr, type NameAddr } from './name-addr.js';
export { parseVia, formatVia, type Via } from './via.js';
export { parseCSeq } from './cseq.js';
export { parseAuthParams } from './auth-params.js';
export { splitList } from './split.js';
export { unquote } from './chars.js';
export { StreamFramer, type FramerItem } from './framer.js';
export type { SipRequest, SipResponse, SipMessage } from './types.js';
