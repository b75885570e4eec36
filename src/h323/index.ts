/** Public surface of the H.323 gatekeeper (H.225.0 RAS). */
export * from './errors.js';
export { defaultGatekeeperConfig, parseGatekeeperConfig, type GatekeeperConfig } from './config.js';
export { startGatekeeper, type Gatekeeper, type GatekeeperDeps, type AdmissionInfo, type IncomingCallResult } from './gatekeeper.js';
export { H460_18, H460_19, hasFeature, incomingCallGenericData, readIncomingCall, type IncomingCallIndication } from './h46018.js';
export type { RegistrationInfo } from './registry.js';
export * from './ras.js';
export { writePcap, type PcapDatagram } from './pcap.js';
export { checkPwdHash, endpointPwdHash, OID_MD5, type PwdHashCheck } from './h235.js';
