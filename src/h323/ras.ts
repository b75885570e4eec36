/**
 * H.225.0 RAS messages: typed values, encode/decode of whole datagrams, and the small helpers
 * the gatekeeper needs (transport addresses, aliases). The wire format is PER aligned over the
 * schema in ras-schema.ts.
 *
 * Values follow asn.ts: a CHOICE is an object with one key, so a message is e.g.
 * `{ registrationRequest: { requestSeqNum: 1, ... } }` and an alias `{ dialedDigits: '4640123' }`.
 * The interfaces below type the fields knude reads and writes; every other component of the
 * ASN.1 is still accepted and produced through the index signature.
 */
import { decode, encode, type BitString } from './asn.js';
import { H323CodecError } from './errors.js';
import { RasMessage as RasMessageSchema } from './ras-schema.js';

/** H.225.0 version 7 (the version knude speaks; older endpoints' versions are accepted). */
export const H225_PROTOCOL_ID = '0.0.8.2250.0.7';

export type TransportAddress =
  | { ipAddress: { ip: Buffer; port: number } }
  | { ip6Address: { ip: Buffer; port: number } }
  | { ipSourceRoute: { ip: Buffer; port: number; route: Buffer[]; routing: { strict: null } | { loose: null } } }
  | { ipxAddress: { node: Buffer; netnum: Buffer; port: Buffer } }
  | { netBios: Buffer }
  | { nsap: Buffer }
  | { nonStandardAddress: NonStandardParameter };

export type AliasAddress =
  | { dialedDigits: string }
  | { 'h323-ID': string }
  | { 'url-ID': string }
  | { transportID: TransportAddress }
  | { 'email-ID': string }
  | { partyNumber: Record<string, unknown> }
  | { mobileUIM: Buffer }
  | { isupNumber: Buffer }
  | { $unknown: { index: number; data: Buffer } };

export interface NonStandardParameter {
  nonStandardIdentifier: { object: string } | { h221NonStandard: H221NonStandard };
  data: Buffer;
}

export interface H221NonStandard {
  t35CountryCode: number;
  t35Extension: number;
  manufacturerCode: number;
}

export interface VendorIdentifier {
  vendor: H221NonStandard;
  productId?: Buffer;
  versionId?: Buffer;
  enterpriseNumber?: string;
}

export interface EndpointType {
  nonStandardData?: NonStandardParameter;
  vendor?: VendorIdentifier;
  gatekeeper?: Record<string, unknown>;
  gateway?: Record<string, unknown>;
  mcu?: Record<string, unknown>;
  terminal?: Record<string, unknown>;
  mc: boolean;
  undefinedNode: boolean;
  set?: BitString;
  [more: string]: unknown;
}

/** H.235 Params: the runtime parameters of a HASHED/ENCRYPTED/SIGNED value. */
export interface H235Params {
  ranInt?: number;
  iv8?: Buffer;
  iv16?: Buffer;
  iv?: Buffer;
  clearSalt?: Buffer;
}

export interface Hashed {
  algorithmOID: string;
  paramS: H235Params;
  hash: BitString;
}

/** H.235 ClearToken (the fields RAS password authentication uses; the rest pass through). */
export interface ClearToken {
  tokenOID: string;
  timeStamp?: number;
  password?: string;
  challenge?: Buffer;
  random?: number;
  generalID?: string;
  sendersID?: string;
  [more: string]: unknown;
}

export type CryptoH323Token =
  | { cryptoEPPwdHash: { alias: AliasAddress; timeStamp: number; token: Hashed } }
  | { cryptoGKPwdHash: { gatekeeperId: string; timeStamp: number; token: Hashed } }
  | { cryptoEPPwdEncr: Record<string, unknown> }
  | { cryptoGKPwdEncr: Record<string, unknown> }
  | { cryptoEPCert: Record<string, unknown> }
  | { cryptoGKCert: Record<string, unknown> }
  | { cryptoFastStart: Record<string, unknown> }
  | { nestedcryptoToken: Record<string, unknown> }
  | { $unknown: { index: number; data: Buffer } };

export interface CallIdentifier {
  guid: Buffer;
}

type Reason<N extends string> = { [K in N]: { [k in K]: null } }[N];
type Open = { [more: string]: unknown };

export interface GatekeeperRequest extends Open {
  requestSeqNum: number;
  protocolIdentifier: string;
  rasAddress: TransportAddress;
  endpointType: EndpointType;
  gatekeeperIdentifier?: string;
  endpointAlias?: AliasAddress[];
}
export interface GatekeeperConfirm extends Open {
  requestSeqNum: number;
  protocolIdentifier: string;
  gatekeeperIdentifier?: string;
  rasAddress: TransportAddress;
}
export interface GatekeeperReject extends Open {
  requestSeqNum: number;
  protocolIdentifier: string;
  gatekeeperIdentifier?: string;
  rejectReason: Reason<'resourceUnavailable' | 'terminalExcluded' | 'invalidRevision' | 'undefinedReason' | 'securityDenial' | 'genericDataReason' | 'neededFeatureNotSupported'>;
}
export interface RegistrationRequest extends Open {
  requestSeqNum: number;
  protocolIdentifier: string;
  discoveryComplete: boolean;
  callSignalAddress: TransportAddress[];
  rasAddress: TransportAddress[];
  terminalType: EndpointType;
  terminalAlias?: AliasAddress[];
  gatekeeperIdentifier?: string;
  endpointVendor: VendorIdentifier;
  timeToLive?: number;
  keepAlive?: boolean;
  endpointIdentifier?: string;
  willSupplyUUIEs?: boolean;
  maintainConnection?: boolean;
  tokens?: ClearToken[];
  cryptoTokens?: CryptoH323Token[];
  featureSet?: FeatureSet;
  supportsAssignedGK?: boolean;
}
export interface RegistrationConfirm extends Open {
  requestSeqNum: number;
  protocolIdentifier: string;
  callSignalAddress: TransportAddress[];
  terminalAlias?: AliasAddress[];
  gatekeeperIdentifier?: string;
  endpointIdentifier: string;
  timeToLive?: number;
  willRespondToIRR?: boolean;
  maintainConnection?: boolean;
  featureSet?: FeatureSet;
}
export type RegistrationRejectReason =
  | Reason<
      | 'discoveryRequired'
      | 'invalidRevision'
      | 'invalidCallSignalAddress'
      | 'invalidRASAddress'
      | 'invalidTerminalType'
      | 'undefinedReason'
      | 'transportNotSupported'
      | 'transportQOSNotSupported'
      | 'resourceUnavailable'
      | 'invalidAlias'
      | 'securityDenial'
      | 'fullRegistrationRequired'
      | 'additiveRegistrationNotSupported'
      | 'genericDataReason'
      | 'neededFeatureNotSupported'
      | 'registerWithAssignedGK'
    >
  | { duplicateAlias: AliasAddress[] };
export interface RegistrationReject extends Open {
  requestSeqNum: number;
  protocolIdentifier: string;
  rejectReason: RegistrationRejectReason;
  gatekeeperIdentifier?: string;
}
export interface UnregistrationRequest extends Open {
  requestSeqNum: number;
  callSignalAddress: TransportAddress[];
  endpointAlias?: AliasAddress[];
  endpointIdentifier?: string;
  gatekeeperIdentifier?: string;
  reason?: Reason<'reregistrationRequired' | 'ttlExpired' | 'securityDenial' | 'undefinedReason' | 'maintenance'>;
}
export interface UnregistrationConfirm extends Open {
  requestSeqNum: number;
}
export interface UnregistrationReject extends Open {
  requestSeqNum: number;
  rejectReason: Reason<'notCurrentlyRegistered' | 'callInProgress' | 'undefinedReason' | 'permissionDenied' | 'securityDenial'>;
}
export type CallType = Reason<'pointToPoint' | 'oneToN' | 'nToOne' | 'nToN'>;
export type CallModel = Reason<'direct' | 'gatekeeperRouted'>;
export interface AdmissionRequest extends Open {
  requestSeqNum: number;
  callType: CallType;
  callModel?: CallModel;
  endpointIdentifier: string;
  destinationInfo?: AliasAddress[];
  destCallSignalAddress?: TransportAddress;
  srcInfo: AliasAddress[];
  srcCallSignalAddress?: TransportAddress;
  bandWidth: number;
  callReferenceValue: number;
  conferenceID: Buffer;
  activeMC: boolean;
  answerCall: boolean;
  canMapAlias?: boolean;
  callIdentifier?: CallIdentifier;
  gatekeeperIdentifier?: string;
  tokens?: ClearToken[];
  cryptoTokens?: CryptoH323Token[];
  willSupplyUUIEs?: boolean;
  canMapSrcAlias?: boolean;
}
export interface UUIEsRequested {
  setup: boolean;
  callProceeding: boolean;
  connect: boolean;
  alerting: boolean;
  information: boolean;
  releaseComplete: boolean;
  facility: boolean;
  progress: boolean;
  empty: boolean;
  status?: boolean;
  statusInquiry?: boolean;
  setupAcknowledge?: boolean;
  notify?: boolean;
}
export interface AdmissionConfirm extends Open {
  requestSeqNum: number;
  bandWidth: number;
  callModel: CallModel;
  destCallSignalAddress: TransportAddress;
  irrFrequency?: number;
  destinationInfo?: AliasAddress[];
  willRespondToIRR?: boolean;
  uuiesRequested?: UUIEsRequested;
}
export type AdmissionRejectReason = Reason<
  | 'calledPartyNotRegistered'
  | 'invalidPermission'
  | 'requestDenied'
  | 'undefinedReason'
  | 'callerNotRegistered'
  | 'routeCallToGatekeeper'
  | 'invalidEndpointIdentifier'
  | 'resourceUnavailable'
  | 'securityDenial'
  | 'qosControlNotSupported'
  | 'incompleteAddress'
  | 'aliasesInconsistent'
  | 'exceedsCallCapacity'
  | 'collectDestination'
  | 'collectPIN'
  | 'genericDataReason'
  | 'neededFeatureNotSupported'
  | 'securityDHmismatch'
  | 'noRouteToDestination'
  | 'unallocatedNumber'
  | 'registerWithAssignedGK'
>;
export interface AdmissionReject extends Open {
  requestSeqNum: number;
  rejectReason: AdmissionRejectReason;
}
export interface BandwidthRequest extends Open {
  requestSeqNum: number;
  endpointIdentifier: string;
  conferenceID: Buffer;
  callReferenceValue: number;
  callType?: CallType;
  bandWidth: number;
  callIdentifier?: CallIdentifier;
  answeredCall?: boolean;
}
export interface BandwidthConfirm extends Open {
  requestSeqNum: number;
  bandWidth: number;
}
export interface BandwidthReject extends Open {
  requestSeqNum: number;
  rejectReason: Reason<'notBound' | 'invalidConferenceID' | 'invalidPermission' | 'insufficientResources' | 'invalidRevision' | 'undefinedReason' | 'securityDenial'>;
  allowedBandWidth: number;
}
export interface LocationRequest extends Open {
  requestSeqNum: number;
  endpointIdentifier?: string;
  destinationInfo: AliasAddress[];
  replyAddress: TransportAddress;
  sourceInfo?: AliasAddress[];
  canMapAlias?: boolean;
  gatekeeperIdentifier?: string;
  hopCount?: number;
  canMapSrcAlias?: boolean;
}
export interface LocationConfirm extends Open {
  requestSeqNum: number;
  callSignalAddress: TransportAddress;
  rasAddress: TransportAddress;
  destinationInfo?: AliasAddress[];
}
export type LocationRejectReason = Reason<
  | 'notRegistered'
  | 'invalidPermission'
  | 'requestDenied'
  | 'undefinedReason'
  | 'securityDenial'
  | 'aliasesInconsistent'
  | 'resourceUnavailable'
  | 'genericDataReason'
  | 'neededFeatureNotSupported'
  | 'hopCountExceeded'
  | 'incompleteAddress'
  | 'securityDHmismatch'
  | 'noRouteToDestination'
  | 'unallocatedNumber'
>;
export interface LocationReject extends Open {
  requestSeqNum: number;
  rejectReason: LocationRejectReason;
}
export interface DisengageRequest extends Open {
  requestSeqNum: number;
  endpointIdentifier: string;
  conferenceID: Buffer;
  callReferenceValue: number;
  disengageReason: Reason<'forcedDrop' | 'normalDrop' | 'undefinedReason'>;
  callIdentifier?: CallIdentifier;
  answeredCall?: boolean;
}
export interface DisengageConfirm extends Open {
  requestSeqNum: number;
}
export interface DisengageReject extends Open {
  requestSeqNum: number;
  rejectReason: Reason<'notRegistered' | 'requestToDropOther' | 'securityDenial'>;
}
export interface InfoRequest extends Open {
  requestSeqNum: number;
  callReferenceValue: number;
  replyAddress?: TransportAddress;
  callIdentifier?: CallIdentifier;
}
export interface InfoRequestResponse extends Open {
  requestSeqNum: number;
  endpointType: EndpointType;
  endpointIdentifier: string;
  rasAddress: TransportAddress;
  callSignalAddress: TransportAddress[];
  endpointAlias?: AliasAddress[];
  perCallInfo?: Record<string, unknown>[];
  needResponse?: boolean;
  unsolicited?: boolean;
}
export interface RequestInProgress extends Open {
  requestSeqNum: number;
  delay: number;
}
export interface GenericData {
  id: GenericIdentifier;
  parameters?: { id: GenericIdentifier; content?: Record<string, unknown> }[];
}
export type GenericIdentifier = { standard: number } | { oid: string } | { nonStandard: Buffer };
export interface FeatureSet {
  replacementFeatureSet: boolean;
  neededFeatures?: GenericData[];
  desiredFeatures?: GenericData[];
  supportedFeatures?: GenericData[];
}
export interface ServiceControlIndication extends Open {
  requestSeqNum: number;
  serviceControl: { sessionId: number; contents?: Record<string, unknown>; reason: Reason<'open' | 'refresh' | 'close'> }[];
  endpointIdentifier?: string;
  genericData?: GenericData[];
}
export interface ServiceControlResponse extends Open {
  requestSeqNum: number;
  result?: Reason<'started' | 'failed' | 'stopped' | 'notAvailable' | 'neededFeatureNotSupported'>;
  genericData?: GenericData[];
}

/** One RAS datagram: a CHOICE of the RasMessage type. */
export type RasMessage =
  | { gatekeeperRequest: GatekeeperRequest }
  | { gatekeeperConfirm: GatekeeperConfirm }
  | { gatekeeperReject: GatekeeperReject }
  | { registrationRequest: RegistrationRequest }
  | { registrationConfirm: RegistrationConfirm }
  | { registrationReject: RegistrationReject }
  | { unregistrationRequest: UnregistrationRequest }
  | { unregistrationConfirm: UnregistrationConfirm }
  | { unregistrationReject: UnregistrationReject }
  | { admissionRequest: AdmissionRequest }
  | { admissionConfirm: AdmissionConfirm }
  | { admissionReject: AdmissionReject }
  | { bandwidthRequest: BandwidthRequest }
  | { bandwidthConfirm: BandwidthConfirm }
  | { bandwidthReject: BandwidthReject }
  | { disengageRequest: DisengageRequest }
  | { disengageConfirm: DisengageConfirm }
  | { disengageReject: DisengageReject }
  | { locationRequest: LocationRequest }
  | { locationConfirm: LocationConfirm }
  | { locationReject: LocationReject }
  | { infoRequest: InfoRequest }
  | { infoRequestResponse: InfoRequestResponse }
  | { nonStandardMessage: Open & { requestSeqNum: number; nonStandardData: NonStandardParameter } }
  | { unknownMessageResponse: Open & { requestSeqNum: number; messageNotUnderstood?: Buffer } }
  | { requestInProgress: RequestInProgress }
  | { resourcesAvailableIndicate: Buffer }
  | { resourcesAvailableConfirm: Buffer }
  | { infoRequestAck: Buffer }
  | { infoRequestNak: Buffer }
  | { serviceControlIndication: ServiceControlIndication }
  | { serviceControlResponse: ServiceControlResponse }
  | { admissionConfirmSequence: Buffer }
  | { $unknown: { index: number; data: Buffer } };

type KeysOfUnion<T> = T extends unknown ? keyof T : never;
export type RasMessageType = KeysOfUnion<RasMessage>;
/** The body type of one message type, e.g. RasBody<'registrationRequest'>. */
export type RasBody<K extends RasMessageType> = Extract<RasMessage, Record<K, unknown>>[K];

export function encodeRas(msg: RasMessage): Buffer {
  return encode(RasMessageSchema, msg, 'RasMessage');
}

/** Decodes one RAS datagram. Throws H323CodecError (never anything else) on bad input. */
export function decodeRas(data: Uint8Array): RasMessage {
  try {
    return decode(RasMessageSchema, data, 'RasMessage') as RasMessage;
  } catch (err) {
    if (err instanceof H323CodecError) throw err;
    throw new H323CodecError(`RasMessage: ${(err as Error).message}`);
  }
}

export function rasType(msg: RasMessage): RasMessageType {
  return Object.keys(msg)[0] as RasMessageType;
}

/** The requestSeqNum of a message, if it has one (every RAS message but the unknown ones). */
export function requestSeqNum(msg: RasMessage): number | undefined {
  const body = Object.values(msg)[0] as { requestSeqNum?: unknown } | undefined;
  return typeof body?.requestSeqNum === 'number' ? body.requestSeqNum : undefined;
}

// ---- transport addresses -----------------------------------------------------------------------

/** An IPv4 TransportAddress from dotted quad and port. */
export function ipv4Address(host: string, port: number): TransportAddress {
  const parts = host.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new H323CodecError(`"${host}" is not an IPv4 address`);
  return { ipAddress: { ip: Buffer.from(parts), port } };
}

/** host:port of an IP TransportAddress, or undefined for the other kinds. */
export function addressOf(ta: TransportAddress): { host: string; port: number } | undefined {
  if ('ipAddress' in ta) return { host: [...ta.ipAddress.ip].join('.'), port: ta.ipAddress.port };
  if ('ip6Address' in ta) {
    const ip = ta.ip6Address.ip;
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(ip.readUInt16BE(i).toString(16));
    return { host: groups.join(':'), port: ta.ip6Address.port };
  }
  return undefined;
}

export function formatAddress(ta: TransportAddress): string {
  const a = addressOf(ta);
  if (!a) return Object.keys(ta)[0] ?? 'unknown';
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

// ---- aliases -----------------------------------------------------------------------------------

/** The alias type name and its text, for logs, the registration table and the dial plan. */
export function aliasText(alias: AliasAddress): { type: string; value: string } {
  const [type, value] = Object.entries(alias)[0] as [string, unknown];
  if (typeof value === 'string') return { type, value };
  if (type === 'transportID') return { type, value: formatAddress(value as TransportAddress) };
  if (type === 'partyNumber') {
    const inner = Object.values(value as Record<string, unknown>)[0];
    const digits = typeof inner === 'string' ? inner : ((inner as { publicNumberDigits?: string; privateNumberDigits?: string }).publicNumberDigits ?? (inner as { privateNumberDigits?: string }).privateNumberDigits);
    return { type, value: digits ?? '' };
  }
  return { type, value: '' };
}
