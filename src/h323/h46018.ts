/**
 * H.460.18 (signalling traversal for H.323 endpoints behind NAT/firewalls), the RAS part:
 *  - feature 18 in a featureSet, so knude can tell which endpoints ask for traversal;
 *  - the IncomingCallIndication a gatekeeper puts in an SCI (ServiceControlIndication) to make a
 *    registered endpoint open its call signalling connection outwards, and the SCR it answers.
 * Keep-alive is the lightweight RRQ (H.225.0 7.9.2) before timeToLive runs out; replies go to
 * the RRQ's source address, which keeps the endpoint's NAT binding open.
 *
 * Not here (see the gatekeeper's closing note): the call signalling side (the Facility message
 * on the endpoint's new TCP connection, and relaying Q.931/H.245 for it), and H.460.19 media
 * (multiplexed RTP, keep-alive RTP), which need a gatekeeper-routed signalling proxy.
 */
import { decode, encode, f, seq } from './asn.js';
import { H323CodecError } from './errors.js';
import { CallIdentifier, TransportAddress as TransportAddressSchema } from './ras-schema.js';
import type { FeatureSet, GenericData, TransportAddress } from './ras.js';

export const H460_18 = 18;
export const H460_19 = 19;
/** Parameter 1 of feature 18 in an SCI: the IncomingCallIndication. */
const INCOMING_CALL_INDICATION = 1;

/** IncomingCallIndication ::= SEQUENCE { callSignallingAddress TransportAddress, callID CallIdentifier, ... } */
const IncomingCallIndicationSchema = seq('IncomingCallIndication', [f('callSignallingAddress', TransportAddressSchema), f('callID', CallIdentifier)], true);

export interface IncomingCallIndication {
  callSignallingAddress: TransportAddress;
  callID: { guid: Buffer };
}

/** Whether a featureSet (from RRQ, ARQ…) names this H.460 feature as needed, desired or supported. */
export function hasFeature(set: FeatureSet | undefined, standard: number): boolean {
  if (!set) return false;
  return [set.neededFeatures, set.desiredFeatures, set.supportedFeatures].some((l) => l?.some((g) => 'standard' in g.id && g.id.standard === standard));
}

/** The genericData of an SCI that asks the endpoint to connect out for an incoming call. */
export function incomingCallGenericData(ind: IncomingCallIndication): GenericData {
  return {
    id: { standard: H460_18 },
    parameters: [{ id: { standard: INCOMING_CALL_INDICATION }, content: { raw: encode(IncomingCallIndicationSchema, ind) } }],
  };
}

/** Reads the IncomingCallIndication out of an SCI's genericData; undefined if it has none. */
export function readIncomingCall(data: GenericData[] | undefined): IncomingCallIndication | undefined {
  const g = data?.find((d) => 'standard' in d.id && d.id.standard === H460_18);
  const p = g?.parameters?.find((x) => 'standard' in x.id && x.id.standard === INCOMING_CALL_INDICATION);
  const raw = (p?.content as { raw?: Buffer } | undefined)?.raw;
  if (!raw) return undefined;
  try {
    return decode(IncomingCallIndicationSchema, raw) as IncomingCallIndication;
  } catch (err) {
    throw new H323CodecError(`H.460.18 IncomingCallIndication: ${(err as Error).message}`);
  }
}
