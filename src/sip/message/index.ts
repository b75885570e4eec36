/** The RFC 3261 message layer: parsing, serialising and the structured header helpers. */
export { SipParseError } from './errors.js';
export { SipHeaders } from './headers.js';
export { canonicalHeaderName } from './names.js';
export { parseMessage } from './parse.js';
export { serializeMessage, createRequest, createResponse } from './serialize.js';
export { reasonPhrase } from './reasons.js';
export { parseUri, formatUri, type SipUri } from './uri.js';
export { parseNameAddr, formatNameAddr, type NameAddr } from './name-addr.js';
export { parseVia, formatVia, parseCSeq, parseAuthParams, type Via } from './via.js';
export { splitList } from './split.js';
export { StreamFramer, type FramerItem } from './framer.js';
export type { SipRequest, SipResponse, SipMessage } from './types.js';
