/**
 * Data model of the dial plan: who owns which numbers and domains, which alias reaches what,
 * how neighbour infrastructures are reached, and the rules applied to every dialled string.
 */

export interface Organisation {
  /** Slug, unique: `^[a-z0-9][a-z0-9-]{1,62}$`. */
  name: string;
  displayName: string;
  createdAt: string;
}

/** An E.164 number range owned by one organisation. `prefix` is digits only, without '+'. */
export interface NumberBlock {
  prefix: string;
  org: string;
}

/** A URI domain (lowercase) owned by one organisation. */
export interface UriDomain {
  domain: string;
  org: string;
}

export type AliasKind = 'account' | 'room' | 'zone';

export interface Alias {
  /** Normalised: '+4512345678' (E.164) or 'user@domain' (URI, lowercase). */
  alias: string;
  kind: AliasKind;
  /** account: 'username@realm'; room: room id; zone: zone name. */
  target: string;
  org: string;
  /** Reachable by external (non-connected) callers. Rooms always are. */
  public: boolean;
}

export type TargetTransport = 'udp' | 'tcp' | 'tls';

export interface ZoneTarget {
  host: string;
  port: number;
  transport: TargetTransport;
  /** Lower is preferred, as in DNS SRV. */
  priority: number;
}

export interface DigestCredentials {
  username: string;
  password: string;
}

/**
 * One organisation's local infrastructure, connected with one (redundant) link.
 * `prefixes`/`domains` null means "whatever the organisation owns", so adding a block to the
 * organisation extends its zone without a second edit.
 */
export interface NeighbourZone {
  name: string;
  org: string;
  prefixes: string[] | null;
  domains: string[] | null;
  targets: ZoneTarget[];
  credentials: DigestCredentials | null;
}

export interface TransformRule {
  id: number;
  /** Lower runs first; ties by id. */
  priority: number;
  /** Regular expression, always applied anchored to the whole dial string. */
  match: string;
  /** Replacement with $1..$9 for the captured groups. */
  replace: string;
  /** When this rule matches, no further rule or pass runs. */
  stop: boolean;
  description: string;
}

export interface BlockedPair {
  fromOrg: string;
  toOrg: string;
  reason: string;
}

/** Numbering and routing configuration of this node's plan. */
export interface DialPlanSettings {
  /** Domains this node answers for; a digit user part on one of them is a number. First = primary. */
  ownDomains: string[];
  /** Default country code, digits, e.g. '46' or '45'. */
  countryCode: string;
  /** Trunk prefix dialled before a national number, e.g. '0' (Sweden); '' when none (Denmark). */
  nationalPrefix: string;
  /** Dialled before a country code, e.g. '00'. */
  internationalPrefix: string;
  /** Lengths of a national significant number dialled bare, e.g. [8] in Denmark. */
  nationalNumberLengths: number[];
  /** Outbound SIP targets for URIs whose domain is not in the plan. Empty: no internet routing. */
  gateway: ZoneTarget[];
}

export const defaultSettings: DialPlanSettings = {
  ownDomains: [],
  countryCode: '46',
  nationalPrefix: '0',
  internationalPrefix: '00',
  nationalNumberLengths: [],
  gateway: [],
};

/** The whole plan, as exported and imported and as the router's index is built from. */
export interface PlanSnapshot {
  settings: DialPlanSettings;
  orgs: Organisation[];
  blocks: NumberBlock[];
  domains: UriDomain[];
  zones: NeighbourZone[];
  aliases: Alias[];
  transforms: TransformRule[];
  blocked: BlockedPair[];
}

/** Result of normalising a dialled string. Exactly one of e164/uri is set. */
export interface NormalisedAddress {
  /** '+4512345678' */
  e164?: string;
  /** 'user@domain', lowercase. */
  uri?: string;
  /**
   * The user part as the transforms see it: for numbers the digits (and a leading '+') with
   * visual separators removed but not yet canonicalised; for URIs lowercase.
   */
  user: string;
  domain?: string;
}
