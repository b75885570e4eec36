/**
 * The H.225.0 RAS types (H323-MESSAGES, H.225.0 v7, 12/2009), transcribed by hand into the
 * schema language of asn.ts. Every root component is modelled (the root has no lengths to skip
 * by), and every extension addition is listed by name in order; additions knude does not use
 * are {t:'open'}: kept as octets, never interpreted. The H.235 types (ClearToken, CryptoToken,
 * AuthenticationMechanism) are in h235-schema.ts; H.245's QOSCapability only appears inside
 * TransportQOS, an addition carried as octets.
 */
import {
  BOOL, NULL, OID, bits, bmp, choice, f, ia5, int, nullChoice, octets, open, opt, printable, ref, seq, seqOf,
  type Alt, type AsnType,
} from './asn.js';
import { AuthenticationMechanism, ClearToken, CryptoToken, ENCRYPTED, HASHED, ICV as ICVSchema, SIGNED, TimeStamp } from './h235-schema.js';

const U32 = int(0, 4294967295);
export const RequestSeqNum = int(1, 65535);
export const BandWidth = U32;
const CallReferenceValue = int(0, 65535);
const GloballyUniqueID = octets(16, 16);
export const GatekeeperIdentifier = bmp(1, 128);
export const EndpointIdentifier = bmp(1, 128);
const TimeToLive = int(1, 4294967295);
const ProtocolIdentifier = OID;

const ICV = ICVSchema;

// Unmodelled types that only ever appear as extension additions.
const AltGKInfo = open('AltGKInfo');
const AlternateGK = open('AlternateGK');
const AlternateGKs = open('SEQUENCE OF AlternateGK');
const Endpoints = open('SEQUENCE OF Endpoint');
const CallCapacity = open('CallCapacity');
const CircuitInfo = open('CircuitInfo');
const TransportQOS = open('TransportQOS');
const CallLinkage = open('CallLinkage');
const RasUsageInformation = open('RasUsageInformation');
const ServiceControlSessions = open('SEQUENCE OF ServiceControlSession');
const AddressPatterns = open('SEQUENCE OF AddressPattern');
const AlternateTransportAddresses = open('AlternateTransportAddresses');
const SecurityErrors = open('SecurityErrors');
const SecurityErrors2 = open('SecurityErrors2');
const PartyNumbers = open('SEQUENCE OF PartyNumber');
const Languages = open('SEQUENCE OF IA5String');

export const H221NonStandard = seq('H221NonStandard', [f('t35CountryCode', int(0, 255)), f('t35Extension', int(0, 255)), f('manufacturerCode', int(0, 65535))], true);

export const NonStandardParameter = seq(
  'NonStandardParameter',
  [f('nonStandardIdentifier', choice('NonStandardIdentifier', [['object', OID], ['h221NonStandard', H221NonStandard]], true)), f('data', octets())],
  false,
);

const IPv4 = octets(4, 4);
const Port = int(0, 65535);

export const TransportAddress = choice(
  'TransportAddress',
  [
    ['ipAddress', seq('ipAddress', [f('ip', IPv4), f('port', Port)], false)],
    [
      'ipSourceRoute',
      seq('ipSourceRoute', [f('ip', IPv4), f('port', Port), f('route', seqOf(IPv4)), f('routing', nullChoice('routing', ['strict', 'loose'], true))], true),
    ],
    ['ipxAddress', seq('ipxAddress', [f('node', octets(6, 6)), f('netnum', octets(4, 4)), f('port', octets(2, 2))], false)],
    ['ip6Address', seq('ip6Address', [f('ip', octets(16, 16)), f('port', Port)], true)],
    ['netBios', octets(16, 16)],
    ['nsap', octets(1, 20)],
    ['nonStandardAddress', NonStandardParameter],
  ],
  true,
);

const NumberDigits = ia5(1, 128, '0123456789#*,');

const PartyNumber = choice(
  'PartyNumber',
  [
    [
      'e164Number',
      seq(
        'PublicPartyNumber',
        [
          f('publicTypeOfNumber', nullChoice('PublicTypeOfNumber', ['unknown', 'internationalNumber', 'nationalNumber', 'networkSpecificNumber', 'subscriberNumber', 'abbreviatedNumber'], true)),
          f('publicNumberDigits', NumberDigits),
        ],
        false,
      ),
    ],
    ['dataPartyNumber', NumberDigits],
    ['telexPartyNumber', NumberDigits],
    [
      'privateNumber',
      seq(
        'PrivatePartyNumber',
        [
          f('privateTypeOfNumber', nullChoice('PrivateTypeOfNumber', ['unknown', 'level2RegionalNumber', 'level1RegionalNumber', 'pISNSpecificNumber', 'localNumber', 'abbreviatedNumber'], true)),
          f('privateNumberDigits', NumberDigits),
        ],
        false,
      ),
    ],
    ['nationalStandardPartyNumber', NumberDigits],
  ],
  true,
);

export const AliasAddress = choice(
  'AliasAddress',
  [
    ['dialedDigits', NumberDigits],
    ['h323-ID', bmp(1, 256)],
  ],
  true,
  [
    ['url-ID', ia5(1, 512)],
    ['transportID', TransportAddress],
    ['email-ID', ia5(1, 512)],
    ['partyNumber', PartyNumber],
    ['mobileUIM', open('MobileUIM')],
    ['isupNumber', open('IsupNumber')],
  ],
);
const Aliases = seqOf(AliasAddress);

/** H.225.0 CryptoH323Token: the H.235 password, certificate and nested tokens RAS carries. */
export const CryptoH323Token = choice(
  'CryptoH323Token',
  [
    ['cryptoEPPwdHash', seq('cryptoEPPwdHash', [f('alias', AliasAddress), f('timeStamp', TimeStamp), f('token', HASHED)], false)],
    ['cryptoGKPwdHash', seq('cryptoGKPwdHash', [f('gatekeeperId', bmp(1, 128)), f('timeStamp', TimeStamp), f('token', HASHED)], false)],
    ['cryptoEPPwdEncr', ENCRYPTED],
    ['cryptoGKPwdEncr', ENCRYPTED],
    ['cryptoEPCert', SIGNED],
    ['cryptoGKCert', SIGNED],
    ['cryptoFastStart', SIGNED],
    ['nestedcryptoToken', CryptoToken],
  ],
  true,
);
const ClearTokens = seqOf(ClearToken);
const CryptoTokens = seqOf(CryptoH323Token);
const TransportAddresses = seqOf(TransportAddress);

export const VendorIdentifier = seq('VendorIdentifier', [f('vendor', H221NonStandard), opt('productId', octets(1, 256)), opt('versionId', octets(1, 256))], true, [
  opt('enterpriseNumber', OID),
]);

const SupportedPrefix = seq('SupportedPrefix', [opt('nonStandardData', NonStandardParameter), f('prefix', AliasAddress)], true);

/** H310Caps … T120OnlyCaps all have this shape. */
const ProtocolCaps = (name: string) =>
  seq(name, [opt('nonStandardData', NonStandardParameter)], true, [opt('dataRatesSupported', open('SEQUENCE OF DataRate')), f('supportedPrefixes', seqOf(SupportedPrefix))]);

export const SupportedProtocols = choice(
  'SupportedProtocols',
  [
    ['nonStandardData', NonStandardParameter],
    ['h310', ProtocolCaps('H310Caps')],
    ['h320', ProtocolCaps('H320Caps')],
    ['h321', ProtocolCaps('H321Caps')],
    ['h322', ProtocolCaps('H322Caps')],
    ['h323', ProtocolCaps('H323Caps')],
    ['h324', ProtocolCaps('H324Caps')],
    ['voice', ProtocolCaps('VoiceCaps')],
    ['t120-only', ProtocolCaps('T120OnlyCaps')],
  ],
  true,
  [
    ['nonStandardProtocol', open('NonStandardProtocol')],
    ['t38FaxAnnexbOnly', open('T38FaxAnnexbOnlyCaps')],
    ['sip', open('SIPCaps')],
  ],
);

const NonStdOnly = (name: string) => seq(name, [opt('nonStandardData', NonStandardParameter)], true);

export const EndpointType = seq(
  'EndpointType',
  [
    opt('nonStandardData', NonStandardParameter),
    opt('vendor', VendorIdentifier),
    opt('gatekeeper', NonStdOnly('GatekeeperInfo')),
    opt('gateway', seq('GatewayInfo', [opt('protocol', seqOf(SupportedProtocols)), opt('nonStandardData', NonStandardParameter)], true)),
    opt('mcu', seq('McuInfo', [opt('nonStandardData', NonStandardParameter)], true, [opt('protocol', open('SEQUENCE OF SupportedProtocols'))])),
    opt('terminal', NonStdOnly('TerminalInfo')),
    f('mc', BOOL),
    f('undefinedNode', BOOL),
  ],
  true,
  [opt('set', bits(32, 32)), opt('supportedTunnelledProtocols', open('SEQUENCE OF TunnelledProtocol'))],
);

const QseriesOptions = seq(
  'QseriesOptions',
  [
    ...['q932Full', 'q951Full', 'q952Full', 'q953Full', 'q955Full', 'q956Full', 'q957Full'].map((n) => f(n, BOOL)),
    f('q954Info', seq('Q954Details', [f('conferenceCalling', BOOL), f('threePartyService', BOOL)], true)),
  ],
  true,
);

export const CallIdentifier = seq('CallIdentifier', [f('guid', GloballyUniqueID)], true);
export const CallType = nullChoice('CallType', ['pointToPoint', 'oneToN', 'nToOne', 'nToN'], true);
export const CallModel = nullChoice('CallModel', ['direct', 'gatekeeperRouted'], true);

// GenericData (H.460 features) is recursive through Content; modelled because H.460.18/.19
// endpoints put their features here.
const GenericIdentifier = choice('GenericIdentifier', [['standard', int(0, 16383, true)], ['oid', OID], ['nonStandard', GloballyUniqueID]], true);
const EnumeratedParameter: AsnType = ref('EnumeratedParameter', () => EnumeratedParameterDef);
const GenericDataRef: AsnType = ref('GenericData', () => GenericData);
const Content = choice(
  'Content',
  [
    ['raw', octets()],
    ['text', ia5()],
    ['unicode', bmp()],
    ['bool', BOOL],
    ['number8', int(0, 255)],
    ['number16', int(0, 65535)],
    ['number32', U32],
    ['id', GenericIdentifier],
    ['alias', AliasAddress],
    ['transport', TransportAddress],
    ['compound', seqOf(EnumeratedParameter, 1, 512)],
    ['nested', seqOf(GenericDataRef, 1, 16)],
  ],
  true,
);
const EnumeratedParameterDef = seq('EnumeratedParameter', [f('id', GenericIdentifier), opt('content', Content)], true);
export const GenericData: AsnType = seq('GenericData', [f('id', GenericIdentifier), opt('parameters', seqOf(EnumeratedParameter, 1, 512))], true);
const GenericDataList = seqOf(GenericData);
export const FeatureSet = seq(
  'FeatureSet',
  [f('replacementFeatureSet', BOOL), opt('neededFeatures', GenericDataList), opt('desiredFeatures', GenericDataList), opt('supportedFeatures', GenericDataList)],
  true,
);

const UUIEsRequested = seq(
  'UUIEsRequested',
  ['setup', 'callProceeding', 'connect', 'alerting', 'information', 'releaseComplete', 'facility', 'progress', 'empty'].map((n) => f(n, BOOL)),
  true,
  ['status', 'statusInquiry', 'setupAcknowledge', 'notify'].map((n) => f(n, BOOL)),
);

const TransportChannelInfo = seq('TransportChannelInfo', [opt('sendAddress', TransportAddress), opt('recvAddress', TransportAddress)], true);
const RTPSession = seq(
  'RTPSession',
  [
    f('rtpAddress', TransportChannelInfo),
    f('rtcpAddress', TransportChannelInfo),
    f('cname', printable()),
    f('ssrc', int(1, 4294967295)),
    f('sessionId', int(1, 255)),
    f('associatedSessionIds', seqOf(int(1, 255))),
  ],
  true,
  [opt('multicast', NULL), opt('bandwidth', BandWidth)],
);

// ---- the messages -----------------------------------------------------------------------------

const security = (icv = true) => [opt('tokens', ClearTokens), opt('cryptoTokens', CryptoTokens), ...(icv ? [opt('integrityCheckValue', ICV)] : [])];

export const GatekeeperRequest = seq(
  'GatekeeperRequest',
  [
    f('requestSeqNum', RequestSeqNum),
    f('protocolIdentifier', ProtocolIdentifier),
    opt('nonStandardData', NonStandardParameter),
    f('rasAddress', TransportAddress),
    f('endpointType', EndpointType),
    opt('gatekeeperIdentifier', GatekeeperIdentifier),
    opt('callServices', QseriesOptions),
    opt('endpointAlias', Aliases),
  ],
  true,
  [
    opt('alternateEndpoints', Endpoints),
    ...security(false),
    opt('authenticationCapability', seqOf(AuthenticationMechanism)),
    opt('algorithmOIDs', seqOf(OID)),
    opt('integrity', open('SEQUENCE OF IntegrityMechanism')),
    opt('integrityCheckValue', ICV),
    opt('supportsAltGK', NULL),
    opt('featureSet', FeatureSet),
    opt('genericData', GenericDataList),
    f('supportsAssignedGK', BOOL),
    opt('assignedGatekeeper', AlternateGK),
  ],
);

export const GatekeeperConfirm = seq(
  'GatekeeperConfirm',
  [
    f('requestSeqNum', RequestSeqNum),
    f('protocolIdentifier', ProtocolIdentifier),
    opt('nonStandardData', NonStandardParameter),
    opt('gatekeeperIdentifier', GatekeeperIdentifier),
    f('rasAddress', TransportAddress),
  ],
  true,
  [
    opt('alternateGatekeeper', AlternateGKs),
    opt('authenticationMode', AuthenticationMechanism),
    ...security(false),
    opt('algorithmOID', OID),
    opt('integrity', open('SEQUENCE OF IntegrityMechanism')),
    opt('integrityCheckValue', ICV),
    opt('featureSet', FeatureSet),
    opt('genericData', GenericDataList),
    opt('assignedGatekeeper', AlternateGK),
    opt('rehomingModel', open('RehomingModel')),
  ],
);

export const GatekeeperRejectReason = nullChoice('GatekeeperRejectReason', ['resourceUnavailable', 'terminalExcluded', 'invalidRevision', 'undefinedReason'], true, [
  ['securityDenial', NULL],
  ['genericDataReason', NULL],
  ['neededFeatureNotSupported', NULL],
  ['securityError', SecurityErrors],
]);

export const GatekeeperReject = seq(
  'GatekeeperReject',
  [
    f('requestSeqNum', RequestSeqNum),
    f('protocolIdentifier', ProtocolIdentifier),
    opt('nonStandardData', NonStandardParameter),
    opt('gatekeeperIdentifier', GatekeeperIdentifier),
    f('rejectReason', GatekeeperRejectReason),
  ],
  true,
  [opt('altGKInfo', AltGKInfo), ...security(), opt('featureSet', FeatureSet), opt('genericData', GenericDataList)],
);

export const RegistrationRequest = seq(
  'RegistrationRequest',
  [
    f('requestSeqNum', RequestSeqNum),
    f('protocolIdentifier', ProtocolIdentifier),
    opt('nonStandardData', NonStandardParameter),
    f('discoveryComplete', BOOL),
    f('callSignalAddress', TransportAddresses),
    f('rasAddress', TransportAddresses),
    f('terminalType', EndpointType),
    opt('terminalAlias', Aliases),
    opt('gatekeeperIdentifier', GatekeeperIdentifier),
    f('endpointVendor', VendorIdentifier),
  ],
  true,
  [
    opt('alternateEndpoints', Endpoints),
    opt('timeToLive', TimeToLive),
    ...security(),
    f('keepAlive', BOOL),
    opt('endpointIdentifier', EndpointIdentifier),
    f('willSupplyUUIEs', BOOL),
    f('maintainConnection', BOOL),
    opt('alternateTransportAddresses', AlternateTransportAddresses),
    opt('additiveRegistration', NULL),
    opt('terminalAliasPattern', AddressPatterns),
    opt('supportsAltGK', NULL),
    opt('usageReportingCapability', open('RasUsageInfoTypes')),
    opt('multipleCalls', BOOL),
    opt('supportedH248Packages', open('SEQUENCE OF H248PackagesDescriptor')),
    opt('callCreditCapability', open('CallCreditCapability')),
    opt('capacityReportingCapability', open('CapacityReportingCapability')),
    opt('capacity', CallCapacity),
    opt('featureSet', FeatureSet),
    opt('genericData', GenericDataList),
    opt('restart', NULL),
    opt('supportsACFSequences', NULL),
    f('supportsAssignedGK', BOOL),
    opt('assignedGatekeeper', AlternateGK),
    opt('transportQOS', TransportQOS),
    opt('language', Languages),
  ],
);

const PreGrantedARQ = seq(
  'preGrantedARQ',
  [f('makeCall', BOOL), f('useGKCallSignalAddressToMakeCall', BOOL), f('answerCall', BOOL), f('useGKCallSignalAddressToAnswer', BOOL)],
  true,
  [opt('irrFrequencyInCall', int(1, 65535)), opt('totalBandwidthRestriction', BandWidth), opt('alternateTransportAddresses', AlternateTransportAddresses), opt('useSpecifiedTransport', open('UseSpecifiedTransport'))],
);

export const RegistrationConfirm = seq(
  'RegistrationConfirm',
  [
    f('requestSeqNum', RequestSeqNum),
    f('protocolIdentifier', ProtocolIdentifier),
    opt('nonStandardData', NonStandardParameter),
    f('callSignalAddress', TransportAddresses),
    opt('terminalAlias', Aliases),
    opt('gatekeeperIdentifier', GatekeeperIdentifier),
    f('endpointIdentifier', EndpointIdentifier),
  ],
  true,
  [
    opt('alternateGatekeeper', AlternateGKs),
    opt('timeToLive', TimeToLive),
    ...security(),
    f('willRespondToIRR', BOOL),
    opt('preGrantedARQ', PreGrantedARQ),
    f('maintainConnection', BOOL),
    opt('serviceControl', ServiceControlSessions),
    opt('supportsAdditiveRegistration', NULL),
    opt('terminalAliasPattern', AddressPatterns),
    opt('supportedPrefixes', seqOf(SupportedPrefix)),
    opt('usageSpec', open('SEQUENCE OF RasUsageSpecification')),
    opt('featureServerAlias', AliasAddress),
    opt('capacityReportingSpec', open('CapacityReportingSpecification')),
    opt('featureSet', FeatureSet),
    opt('genericData', GenericDataList),
    opt('assignedGatekeeper', AlternateGK),
    opt('rehomingModel', open('RehomingModel')),
    opt('transportQOS', TransportQOS),
  ],
);

export const RegistrationRejectReason = choice(
  'RegistrationRejectReason',
  [
    ['discoveryRequired', NULL],
    ['invalidRevision', NULL],
    ['invalidCallSignalAddress', NULL],
    ['invalidRASAddress', NULL],
    ['duplicateAlias', Aliases],
    ['invalidTerminalType', NULL],
    ['undefinedReason', NULL],
    ['transportNotSupported', NULL],
  ],
  true,
  [
    ['transportQOSNotSupported', NULL],
    ['resourceUnavailable', NULL],
    ['invalidAlias', NULL],
    ['securityDenial', NULL],
    ['fullRegistrationRequired', NULL],
    ['additiveRegistrationNotSupported', NULL],
    ['invalidTerminalAliases', open('invalidTerminalAliases')],
    ['genericDataReason', NULL],
    ['neededFeatureNotSupported', NULL],
    ['securityError', SecurityErrors],
    ['registerWithAssignedGK', NULL],
  ],
);

export const RegistrationReject = seq(
  'RegistrationReject',
  [
    f('requestSeqNum', RequestSeqNum),
    f('protocolIdentifier', ProtocolIdentifier),
    opt('nonStandardData', NonStandardParameter),
    f('rejectReason', RegistrationRejectReason),
    opt('gatekeeperIdentifier', GatekeeperIdentifier),
  ],
  true,
  [opt('altGKInfo', AltGKInfo), ...security(), opt('featureSet', FeatureSet), opt('genericData', GenericDataList), opt('assignedGatekeeper', AlternateGK)],
);

export const UnregRequestReason = nullChoice('UnregRequestReason', ['reregistrationRequired', 'ttlExpired', 'securityDenial', 'undefinedReason'], true, [
  ['maintenance', NULL],
  ['securityError', SecurityErrors2],
  ['registerWithAssignedGK', NULL],
]);

export const UnregistrationRequest = seq(
  'UnregistrationRequest',
  [
    f('requestSeqNum', RequestSeqNum),
    f('callSignalAddress', TransportAddresses),
    opt('endpointAlias', Aliases),
    opt('nonStandardData', NonStandardParameter),
    opt('endpointIdentifier', EndpointIdentifier),
  ],
  true,
  [
    opt('alternateEndpoints', Endpoints),
    opt('gatekeeperIdentifier', GatekeeperIdentifier),
    ...security(),
    opt('reason', UnregRequestReason),
    opt('endpointAliasPattern', AddressPatterns),
    opt('supportedPrefixes', seqOf(SupportedPrefix)),
    opt('alternateGatekeeper', AlternateGKs),
    opt('genericData', GenericDataList),
    opt('assignedGatekeeper', AlternateGK),
  ],
);

export const UnregistrationConfirm = seq('UnregistrationConfirm', [f('requestSeqNum', RequestSeqNum), opt('nonStandardData', NonStandardParameter)], true, [
  ...security(),
  opt('genericData', GenericDataList),
  opt('assignedGatekeeper', AlternateGK),
]);

export const UnregRejectReason = nullChoice('UnregRejectReason', ['notCurrentlyRegistered', 'callInProgress', 'undefinedReason'], true, [
  ['permissionDenied', NULL],
  ['securityDenial', NULL],
  ['securityError', SecurityErrors2],
]);

export const UnregistrationReject = seq(
  'UnregistrationReject',
  [f('requestSeqNum', RequestSeqNum), f('rejectReason', UnregRejectReason), opt('nonStandardData', NonStandardParameter)],
  true,
  [opt('altGKInfo', AltGKInfo), ...security(), opt('genericData', GenericDataList)],
);

export const AdmissionRequest = seq(
  'AdmissionRequest',
  [
    f('requestSeqNum', RequestSeqNum),
    f('callType', CallType),
    opt('callModel', CallModel),
    f('endpointIdentifier', EndpointIdentifier),
    opt('destinationInfo', Aliases),
    opt('destCallSignalAddress', TransportAddress),
    opt('destExtraCallInfo', Aliases),
    f('srcInfo', Aliases),
    opt('srcCallSignalAddress', TransportAddress),
    f('bandWidth', BandWidth),
    f('callReferenceValue', CallReferenceValue),
    opt('nonStandardData', NonStandardParameter),
    opt('callServices', QseriesOptions),
    f('conferenceID', GloballyUniqueID),
    f('activeMC', BOOL),
    f('answerCall', BOOL),
  ],
  true,
  [
    f('canMapAlias', BOOL),
    f('callIdentifier', CallIdentifier),
    opt('srcAlternatives', Endpoints),
    opt('destAlternatives', Endpoints),
    opt('gatekeeperIdentifier', GatekeeperIdentifier),
    ...security(),
    opt('transportQOS', TransportQOS),
    f('willSupplyUUIEs', BOOL),
    opt('callLinkage', CallLinkage),
    opt('gatewayDataRate', open('DataRate')),
    opt('capacity', CallCapacity),
    opt('circuitInfo', CircuitInfo),
    opt('desiredProtocols', open('SEQUENCE OF SupportedProtocols')),
    opt('desiredTunnelledProtocol', open('TunnelledProtocol')),
    opt('featureSet', FeatureSet),
    opt('genericData', GenericDataList),
    f('canMapSrcAlias', BOOL),
  ],
);

export const AdmissionConfirm = seq(
  'AdmissionConfirm',
  [
    f('requestSeqNum', RequestSeqNum),
    f('bandWidth', BandWidth),
    f('callModel', CallModel),
    f('destCallSignalAddress', TransportAddress),
    opt('irrFrequency', int(1, 65535)),
    opt('nonStandardData', NonStandardParameter),
  ],
  true,
  [
    opt('destinationInfo', Aliases),
    opt('destExtraCallInfo', Aliases),
    opt('destinationType', EndpointType),
    opt('remoteExtensionAddress', Aliases),
    opt('alternateEndpoints', Endpoints),
    ...security(),
    opt('transportQOS', TransportQOS),
    f('willRespondToIRR', BOOL),
    f('uuiesRequested', UUIEsRequested),
    opt('language', Languages),
    opt('alternateTransportAddresses', AlternateTransportAddresses),
    opt('useSpecifiedTransport', open('UseSpecifiedTransport')),
    opt('circuitInfo', CircuitInfo),
    opt('usageSpec', open('SEQUENCE OF RasUsageSpecification')),
    opt('supportedProtocols', open('SEQUENCE OF SupportedProtocols')),
    opt('serviceControl', ServiceControlSessions),
    opt('multipleCalls', BOOL),
    opt('featureSet', FeatureSet),
    opt('genericData', GenericDataList),
    opt('modifiedSrcInfo', Aliases),
    opt('assignedGatekeeper', AlternateGK),
  ],
);

export const AdmissionRejectReason = nullChoice(
  'AdmissionRejectReason',
  ['calledPartyNotRegistered', 'invalidPermission', 'requestDenied', 'undefinedReason', 'callerNotRegistered', 'routeCallToGatekeeper', 'invalidEndpointIdentifier', 'resourceUnavailable'],
  true,
  [
    ['securityDenial', NULL],
    ['qosControlNotSupported', NULL],
    ['incompleteAddress', NULL],
    ['aliasesInconsistent', NULL],
    ['routeCallToSCN', PartyNumbers],
    ['exceedsCallCapacity', NULL],
    ['collectDestination', NULL],
    ['collectPIN', NULL],
    ['genericDataReason', NULL],
    ['neededFeatureNotSupported', NULL],
    ['securityError', SecurityErrors2],
    ['securityDHmismatch', NULL],
    ['noRouteToDestination', NULL],
    ['unallocatedNumber', NULL],
    ['registerWithAssignedGK', NULL],
  ],
);

export const AdmissionReject = seq(
  'AdmissionReject',
  [f('requestSeqNum', RequestSeqNum), f('rejectReason', AdmissionRejectReason), opt('nonStandardData', NonStandardParameter)],
  true,
  [
    opt('altGKInfo', AltGKInfo),
    opt('tokens', ClearTokens),
    opt('cryptoTokens', CryptoTokens),
    opt('callSignalAddress', TransportAddresses),
    opt('integrityCheckValue', ICV),
    opt('serviceControl', ServiceControlSessions),
    opt('featureSet', FeatureSet),
    opt('genericData', GenericDataList),
    opt('assignedGatekeeper', AlternateGK),
  ],
);

export const BandwidthRequest = seq(
  'BandwidthRequest',
  [
    f('requestSeqNum', RequestSeqNum),
    f('endpointIdentifier', EndpointIdentifier),
    f('conferenceID', GloballyUniqueID),
    f('callReferenceValue', CallReferenceValue),
    opt('callType', CallType),
    f('bandWidth', BandWidth),
    opt('nonStandardData', NonStandardParameter),
  ],
  true,
  [
    f('callIdentifier', CallIdentifier),
    opt('gatekeeperIdentifier', GatekeeperIdentifier),
    ...security(),
    f('answeredCall', BOOL),
    opt('callLinkage', CallLinkage),
    opt('capacity', CallCapacity),
    opt('usageInformation', RasUsageInformation),
    opt('bandwidthDetails', open('SEQUENCE OF BandwidthDetails')),
    opt('genericData', GenericDataList),
    opt('transportQOS', TransportQOS),
  ],
);

export const BandwidthConfirm = seq('BandwidthConfirm', [f('requestSeqNum', RequestSeqNum), f('bandWidth', BandWidth), opt('nonStandardData', NonStandardParameter)], true, [
  ...security(),
  opt('capacity', CallCapacity),
  opt('genericData', GenericDataList),
  opt('transportQOS', TransportQOS),
]);

export const BandRejectReason = nullChoice('BandRejectReason', ['notBound', 'invalidConferenceID', 'invalidPermission', 'insufficientResources', 'invalidRevision', 'undefinedReason'], true, [
  ['securityDenial', NULL],
  ['securityError', SecurityErrors2],
]);

export const BandwidthReject = seq(
  'BandwidthReject',
  [f('requestSeqNum', RequestSeqNum), f('rejectReason', BandRejectReason), f('allowedBandWidth', BandWidth), opt('nonStandardData', NonStandardParameter)],
  true,
  [opt('altGKInfo', AltGKInfo), ...security(), opt('genericData', GenericDataList)],
);

export const LocationRequest = seq(
  'LocationRequest',
  [
    f('requestSeqNum', RequestSeqNum),
    opt('endpointIdentifier', EndpointIdentifier),
    f('destinationInfo', Aliases),
    opt('nonStandardData', NonStandardParameter),
    f('replyAddress', TransportAddress),
  ],
  true,
  [
    opt('sourceInfo', Aliases),
    f('canMapAlias', BOOL),
    opt('gatekeeperIdentifier', GatekeeperIdentifier),
    ...security(),
    opt('desiredProtocols', open('SEQUENCE OF SupportedProtocols')),
    opt('desiredTunnelledProtocol', open('TunnelledProtocol')),
    opt('featureSet', FeatureSet),
    opt('genericData', GenericDataList),
    opt('hopCount', int(1, 255)),
    opt('circuitInfo', CircuitInfo),
    opt('callIdentifier', CallIdentifier),
    opt('bandWidth', BandWidth),
    opt('sourceEndpointInfo', Aliases),
    f('canMapSrcAlias', BOOL),
    opt('language', Languages),
  ],
);

export const LocationConfirm = seq(
  'LocationConfirm',
  [f('requestSeqNum', RequestSeqNum), f('callSignalAddress', TransportAddress), f('rasAddress', TransportAddress), opt('nonStandardData', NonStandardParameter)],
  true,
  [
    opt('destinationInfo', Aliases),
    opt('destExtraCallInfo', Aliases),
    opt('destinationType', EndpointType),
    opt('remoteExtensionAddress', Aliases),
    opt('alternateEndpoints', Endpoints),
    ...security(),
    opt('alternateTransportAddresses', AlternateTransportAddresses),
    opt('supportedProtocols', open('SEQUENCE OF SupportedProtocols')),
    opt('multipleCalls', BOOL),
    opt('featureSet', FeatureSet),
    opt('genericData', GenericDataList),
    opt('circuitInfo', CircuitInfo),
    opt('serviceControl', ServiceControlSessions),
    opt('modifiedSrcInfo', Aliases),
    opt('bandWidth', BandWidth),
  ],
);

export const LocationRejectReason = nullChoice('LocationRejectReason', ['notRegistered', 'invalidPermission', 'requestDenied', 'undefinedReason'], true, [
  ['securityDenial', NULL],
  ['aliasesInconsistent', NULL],
  ['routeCalltoSCN', PartyNumbers],
  ['resourceUnavailable', NULL],
  ['genericDataReason', NULL],
  ['neededFeatureNotSupported', NULL],
  ['hopCountExceeded', NULL],
  ['incompleteAddress', NULL],
  ['securityError', SecurityErrors2],
  ['securityDHmismatch', NULL],
  ['noRouteToDestination', NULL],
  ['unallocatedNumber', NULL],
]);

export const LocationReject = seq(
  'LocationReject',
  [f('requestSeqNum', RequestSeqNum), f('rejectReason', LocationRejectReason), opt('nonStandardData', NonStandardParameter)],
  true,
  [opt('altGKInfo', AltGKInfo), ...security(), opt('featureSet', FeatureSet), opt('genericData', GenericDataList), opt('serviceControl', ServiceControlSessions)],
);

export const DisengageReason = nullChoice('DisengageReason', ['forcedDrop', 'normalDrop', 'undefinedReason'], true);

export const DisengageRequest = seq(
  'DisengageRequest',
  [
    f('requestSeqNum', RequestSeqNum),
    f('endpointIdentifier', EndpointIdentifier),
    f('conferenceID', GloballyUniqueID),
    f('callReferenceValue', CallReferenceValue),
    f('disengageReason', DisengageReason),
    opt('nonStandardData', NonStandardParameter),
  ],
  true,
  [
    f('callIdentifier', CallIdentifier),
    opt('gatekeeperIdentifier', GatekeeperIdentifier),
    ...security(),
    f('answeredCall', BOOL),
    opt('callLinkage', CallLinkage),
    opt('capacity', CallCapacity),
    opt('circuitInfo', CircuitInfo),
    opt('usageInformation', RasUsageInformation),
    opt('terminationCause', open('CallTerminationCause')),
    opt('serviceControl', ServiceControlSessions),
    opt('genericData', GenericDataList),
  ],
);

export const DisengageConfirm = seq('DisengageConfirm', [f('requestSeqNum', RequestSeqNum), opt('nonStandardData', NonStandardParameter)], true, [
  ...security(),
  opt('capacity', CallCapacity),
  opt('circuitInfo', CircuitInfo),
  opt('usageInformation', RasUsageInformation),
  opt('genericData', GenericDataList),
  opt('assignedGatekeeper', AlternateGK),
]);

export const DisengageRejectReason = nullChoice('DisengageRejectReason', ['notRegistered', 'requestToDropOther'], true, [
  ['securityDenial', NULL],
  ['securityError', SecurityErrors2],
]);

export const DisengageReject = seq(
  'DisengageReject',
  [f('requestSeqNum', RequestSeqNum), f('rejectReason', DisengageRejectReason), opt('nonStandardData', NonStandardParameter)],
  true,
  [opt('altGKInfo', AltGKInfo), ...security(), opt('genericData', GenericDataList)],
);

export const InfoRequest = seq(
  'InfoRequest',
  [f('requestSeqNum', RequestSeqNum), f('callReferenceValue', CallReferenceValue), opt('nonStandardData', NonStandardParameter), opt('replyAddress', TransportAddress)],
  true,
  [
    f('callIdentifier', CallIdentifier),
    ...security(),
    opt('uuiesRequested', UUIEsRequested),
    opt('callLinkage', CallLinkage),
    opt('usageInfoRequested', open('RasUsageInfoTypes')),
    opt('segmentedResponseSupported', NULL),
    opt('nextSegmentRequested', int(0, 65535)),
    opt('capacityInfoRequested', NULL),
    opt('genericData', GenericDataList),
    opt('assignedGatekeeper', AlternateGK),
  ],
);

const PerCallInfo = seq(
  'perCallInfo',
  [
    opt('nonStandardData', NonStandardParameter),
    f('callReferenceValue', CallReferenceValue),
    f('conferenceID', GloballyUniqueID),
    opt('originator', BOOL),
    opt('audio', seqOf(RTPSession)),
    opt('video', seqOf(RTPSession)),
    opt('data', seqOf(TransportChannelInfo)),
    f('h245', TransportChannelInfo),
    f('callSignalling', TransportChannelInfo),
    f('callType', CallType),
    f('bandWidth', BandWidth),
    f('callModel', CallModel),
  ],
  true,
  [
    f('callIdentifier', CallIdentifier),
    ...security(false),
    f('substituteConfIDs', seqOf(GloballyUniqueID)),
    opt('pdu', open('SEQUENCE OF pdu')),
    opt('callLinkage', CallLinkage),
    opt('usageInformation', RasUsageInformation),
    opt('circuitInfo', CircuitInfo),
  ],
);

export const InfoRequestResponseStatus = choice(
  'InfoRequestResponseStatus',
  [
    ['complete', NULL],
    ['incomplete', NULL],
    ['segment', int(0, 65535)],
    ['invalidCall', NULL],
  ],
  true,
);

export const InfoRequestResponse = seq(
  'InfoRequestResponse',
  [
    opt('nonStandardData', NonStandardParameter),
    f('requestSeqNum', RequestSeqNum),
    f('endpointType', EndpointType),
    f('endpointIdentifier', EndpointIdentifier),
    f('rasAddress', TransportAddress),
    f('callSignalAddress', TransportAddresses),
    opt('endpointAlias', Aliases),
    opt('perCallInfo', seqOf(PerCallInfo)),
  ],
  true,
  [...security(), f('needResponse', BOOL), opt('capacity', CallCapacity), opt('irrStatus', InfoRequestResponseStatus), f('unsolicited', BOOL), opt('genericData', GenericDataList)],
);

export const NonStandardMessage = seq('NonStandardMessage', [f('requestSeqNum', RequestSeqNum), f('nonStandardData', NonStandardParameter)], true, [
  ...security(),
  opt('featureSet', FeatureSet),
  opt('genericData', GenericDataList),
]);

export const UnknownMessageResponse = seq('UnknownMessageResponse', [f('requestSeqNum', RequestSeqNum)], true, [...security(), f('messageNotUnderstood', octets())]);

export const RequestInProgress = seq(
  'RequestInProgress',
  [
    f('requestSeqNum', RequestSeqNum),
    opt('nonStandardData', NonStandardParameter),
    opt('tokens', ClearTokens),
    opt('cryptoTokens', CryptoTokens),
    opt('integrityCheckValue', ICV),
    f('delay', int(1, 65535)),
  ],
  true,
);

export const ServiceControlResult = nullChoice('result', ['started', 'failed', 'stopped', 'notAvailable', 'neededFeatureNotSupported'], true);

/**
 * ServiceControlSession, modelled because SCI/SCR carry it in their roots. Its descriptor is
 * only partly modelled: url and signal; nonStandard and callCreditServiceControl are refused
 * by the encoder and decoded as errors (H.460.18 sends genericData, not these).
 */
const ServiceControlSession = seq(
  'ServiceControlSession',
  [
    f('sessionId', int(0, 255)),
    opt(
      'contents',
      choice(
        'ServiceControlDescriptor',
        [
          ['url', ia5(0, 512)],
          ['signal', octets()],
          ['nonStandard', NonStandardParameter],
          ['callCreditServiceControl', open('CallCreditServiceControl')],
        ],
        true,
      ),
    ),
    f('reason', nullChoice('reason', ['open', 'refresh', 'close'], true)),
  ],
  true,
);

/** SCI (H.460.18 wakes a traversal client with it) and its response SCR. */
export const ServiceControlIndication = seq(
  'ServiceControlIndication',
  [
    f('requestSeqNum', RequestSeqNum),
    opt('nonStandardData', NonStandardParameter),
    f('serviceControl', seqOf(ServiceControlSession)),
    opt('endpointIdentifier', EndpointIdentifier),
    opt('callSpecific', seq('callSpecific', [f('callIdentifier', CallIdentifier), f('conferenceID', GloballyUniqueID), f('answeredCall', BOOL)], true)),
    opt('tokens', ClearTokens),
    opt('cryptoTokens', CryptoTokens),
    opt('integrityCheckValue', ICV),
    opt('featureSet', FeatureSet),
    opt('genericData', GenericDataList),
  ],
  true,
);

export const ServiceControlResponse = seq(
  'ServiceControlResponse',
  [
    f('requestSeqNum', RequestSeqNum),
    opt('result', ServiceControlResult),
    opt('nonStandardData', NonStandardParameter),
    opt('tokens', ClearTokens),
    opt('cryptoTokens', CryptoTokens),
    opt('integrityCheckValue', ICV),
    opt('featureSet', FeatureSet),
    opt('genericData', GenericDataList),
  ],
  true,
);

const rootAlternatives: Alt[] = [
  ['gatekeeperRequest', GatekeeperRequest],
  ['gatekeeperConfirm', GatekeeperConfirm],
  ['gatekeeperReject', GatekeeperReject],
  ['registrationRequest', RegistrationRequest],
  ['registrationConfirm', RegistrationConfirm],
  ['registrationReject', RegistrationReject],
  ['unregistrationRequest', UnregistrationRequest],
  ['unregistrationConfirm', UnregistrationConfirm],
  ['unregistrationReject', UnregistrationReject],
  ['admissionRequest', AdmissionRequest],
  ['admissionConfirm', AdmissionConfirm],
  ['admissionReject', AdmissionReject],
  ['bandwidthRequest', BandwidthRequest],
  ['bandwidthConfirm', BandwidthConfirm],
  ['bandwidthReject', BandwidthReject],
  ['disengageRequest', DisengageRequest],
  ['disengageConfirm', DisengageConfirm],
  ['disengageReject', DisengageReject],
  ['locationRequest', LocationRequest],
  ['locationConfirm', LocationConfirm],
  ['locationReject', LocationReject],
  ['infoRequest', InfoRequest],
  ['infoRequestResponse', InfoRequestResponse],
  ['nonStandardMessage', NonStandardMessage],
  ['unknownMessageResponse', UnknownMessageResponse],
];

export const RasMessage = choice('RasMessage', rootAlternatives, true, [
  ['requestInProgress', RequestInProgress],
  ['resourcesAvailableIndicate', open('ResourcesAvailableIndicate')],
  ['resourcesAvailableConfirm', open('ResourcesAvailableConfirm')],
  ['infoRequestAck', open('InfoRequestAck')],
  ['infoRequestNak', open('InfoRequestNak')],
  ['serviceControlIndication', ServiceControlIndication],
  ['serviceControlResponse', ServiceControlResponse],
  ['admissionConfirmSequence', open('SEQUENCE OF AdmissionConfirm')],
]);
