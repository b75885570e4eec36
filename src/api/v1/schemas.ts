/**
 * The named schemas of the OpenAPI document (components.schemas). Requests and responses are
 * validated against these at run time, so they are the contract, not documentation only.
 */
import type { JsonSchema } from './json-schema.js';

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
export { ref };

const ORG_NAME = '^[a-z0-9][a-z0-9-]{1,62}$';
const PIN = '^[0-9]{4,12}$';
const COLOR = '^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$';
const E164 = '^\\+[1-9][0-9]{1,14}$';
const text = (max: number, min = 1): JsonSchema => ({ type: 'string', minLength: min, maxLength: max });
const dateTime: JsonSchema = { type: 'string', format: 'date-time' };
const role: JsonSchema = { type: 'string', enum: ['operator', 'org-admin', 'booker'] };
const obj = (properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema => ({ type: 'object', properties, required, additionalProperties: false });

export const components: Record<string, JsonSchema> = {
  Problem: obj(
    {
      type: { type: 'string' },
      title: { type: 'string' },
      status: { type: 'integer', minimum: 400, maximum: 599 },
      detail: { type: 'string' },
      instance: { type: 'string' },
      issues: { type: 'array', items: obj({ path: { type: 'string' }, message: { type: 'string' } }, ['path', 'message']) },
    },
    ['type', 'title', 'status', 'detail'],
  ),
  OrgName: { type: 'string', pattern: ORG_NAME, description: 'organisation slug from the alias plan' },
  Role: role,
  Health: obj({ status: { type: 'string', enum: ['ok'] } }, ['status']),
  Me: obj({ actor: { type: 'string' }, org: { type: ['string', 'null'] }, role, via: { type: 'string', enum: ['certificate', 'token'] } }, ['actor', 'org', 'role', 'via']),
  Login: obj({ username: text(64), password: text(256) }, ['username', 'password']),
  Organisation: obj(
    {
      name: ref('OrgName'),
      displayName: { type: 'string' },
      createdAt: dateTime,
      blocks: { type: 'array', items: { type: 'string', pattern: E164 } },
      domains: { type: 'array', items: { type: 'string' } },
    },
    ['name', 'displayName', 'createdAt', 'blocks', 'domains'],
  ),
  NewOrganisation: obj(
    {
      name: ref('OrgName'),
      displayName: text(200),
      blocks: { type: 'array', maxItems: 100, items: { type: 'string', pattern: '^\\+?[0-9]{1,15}$' } },
      domains: { type: 'array', maxItems: 100, items: text(253) },
    },
    ['name'],
  ),
  OrganisationPatch: obj({ displayName: text(200) }, ['displayName']),
  NewBlock: obj({ prefix: { type: 'string', pattern: '^\\+?[0-9]{1,15}$' } }, ['prefix']),
  NewDomain: obj({ domain: text(253) }, ['domain']),
  User: obj(
    {
      id: { type: 'string' },
      org: { type: ['string', 'null'] },
      username: { type: 'string' },
      displayName: { type: 'string' },
      email: { type: 'string' },
      role,
      hasPassword: { type: 'boolean' },
      createdAt: dateTime,
    },
    ['id', 'org', 'username', 'displayName', 'role', 'hasPassword', 'createdAt'],
  ),
  NewUser: obj(
    {
      org: ref('OrgName'),
      username: { type: 'string', pattern: '^[A-Za-z0-9._@-]{2,64}$' },
      displayName: text(200),
      email: { type: 'string', format: 'email', maxLength: 254 },
      role,
      password: text(256, 10),
    },
    ['username', 'displayName', 'role'],
  ),
  UserPatch: obj({ displayName: text(200), email: { type: ['string', 'null'], format: 'email', maxLength: 254 }, role, password: text(256, 10) }),
  Token: obj({ id: { type: 'string' }, userId: { type: 'string' }, label: { type: 'string' }, expiresAt: dateTime, createdAt: dateTime }, ['id', 'userId', 'label', 'expiresAt', 'createdAt']),
  NewToken: obj({ userId: { type: 'string', maxLength: 64 }, label: text(100), lifetimeSeconds: { type: 'integer', minimum: 60, maximum: 31_622_400 } }, ['label']),
  IssuedToken: obj(
    { id: { type: 'string' }, userId: { type: 'string' }, label: { type: 'string' }, expiresAt: dateTime, createdAt: dateTime, token: { type: 'string', description: 'shown once; only its SHA-256 is stored' } },
    ['id', 'userId', 'label', 'expiresAt', 'createdAt', 'token'],
  ),
  Session: obj({ token: { type: 'string' }, expiresAt: dateTime, user: ref('User') }, ['token', 'expiresAt', 'user']),
  ClientCertificate: obj(
    { fingerprint: { type: 'string', pattern: '^[0-9a-f]{64}$' }, org: { type: ['string', 'null'] }, role, label: { type: 'string' }, subject: { type: 'string' }, createdAt: dateTime },
    ['fingerprint', 'org', 'role', 'label', 'createdAt'],
  ),
  NewClientCertificate: {
    type: 'object',
    additionalProperties: false,
    properties: {
      fingerprint: { type: 'string', pattern: '^(?:sha-?256:)?(?:[0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$' },
      certificate: { type: 'string', maxLength: 20_000, description: 'PEM; its fingerprint and subject are taken from it' },
      org: ref('OrgName'),
      role,
      label: text(100),
    },
    required: ['role', 'label'],
    oneOf: [{ required: ['fingerprint'] }, { required: ['certificate'] }],
  },
  Account: obj(
    { id: { type: 'string', description: 'user@realm' }, org: { type: 'string' }, username: { type: 'string' }, realm: { type: 'string' }, displayName: { type: 'string' }, aliases: { type: 'array', items: { type: 'string' } }, createdAt: dateTime },
    ['id', 'org', 'username', 'realm', 'aliases', 'createdAt'],
  ),
  NewAccount: obj(
    { org: ref('OrgName'), username: text(64), password: text(128, 8), displayName: text(128), realm: text(253), aliases: { type: 'array', maxItems: 20, items: text(256) } },
    ['username', 'password'],
  ),
  Password: obj({ password: text(128, 8) }, ['password']),
  NewAlias: obj({ alias: text(256), public: { type: 'boolean' } }, ['alias']),
  Room: obj(
    {
      id: { type: 'string' },
      name: { type: 'string' },
      org: { type: 'string' },
      kind: { type: 'string', enum: ['permanent', 'one-time'] },
      validFrom: dateTime,
      validUntil: dateTime,
      maxParticipants: { type: 'integer' },
      hostPin: { type: 'boolean', description: 'whether a host PIN is set' },
      guestPin: { type: 'boolean' },
      lobby: { type: 'boolean' },
      locked: { type: 'boolean' },
      color: { type: 'string' },
      logo: { type: 'string', description: 'sanitised logo as a data: URL' },
      aliases: { type: 'array', items: { type: 'string' } },
      createdAt: dateTime,
    },
    ['id', 'name', 'org', 'kind', 'maxParticipants', 'hostPin', 'guestPin', 'lobby', 'locked', 'aliases', 'createdAt'],
  ),
  NewRoom: obj(
    {
      id: { type: 'string', pattern: '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$' },
      org: ref('OrgName'),
      name: text(200),
      hostPin: { type: 'string', pattern: PIN },
      guestPin: { type: 'string', pattern: PIN },
      maxParticipants: { type: 'integer', minimum: 2, maximum: 100 },
      lobby: { type: 'boolean' },
      locked: { type: 'boolean' },
      color: { type: 'string', pattern: COLOR },
      aliases: { type: 'array', maxItems: 50, items: text(256) },
    },
    ['name'],
  ),
  RoomPatch: obj({
    name: text(200),
    hostPin: { type: ['string', 'null'], pattern: PIN },
    guestPin: { type: ['string', 'null'], pattern: PIN },
    maxParticipants: { type: 'integer', minimum: 2, maximum: 100 },
    lobby: { type: 'boolean' },
    locked: { type: 'boolean' },
    color: { type: ['string', 'null'], pattern: COLOR },
  }),
  Logo: obj({ contentType: { type: 'string', enum: ['image/png', 'image/svg+xml'] }, data: { type: 'string', minLength: 1, maxLength: 400_000, pattern: '^[A-Za-z0-9+/]+={0,2}$', contentEncoding: 'base64' } }, ['contentType', 'data']),
  Participant: obj(
    { name: text(200), phone: { type: 'string', pattern: E164 }, email: { type: 'string', format: 'email', maxLength: 254 }, role: { type: 'string', enum: ['host', 'guest'] } },
    ['name'],
  ),
  Booking: obj(
    {
      id: { type: 'string' },
      org: { type: 'string' },
      roomId: { type: 'string' },
      title: { type: 'string' },
      start: dateTime,
      end: dateTime,
      joinAlias: { type: 'string' },
      joinLink: { type: 'string', format: 'uri' },
      templateId: { type: 'string' },
      status: { type: 'string', enum: ['booked', 'cancelled'] },
      participants: { type: 'array', items: ref('Participant') },
      createdBy: { type: 'string' },
      createdAt: dateTime,
      hostPin: { type: 'string', pattern: PIN, description: 'only in the reply to the booking request' },
      guestPin: { type: 'string', pattern: PIN, description: 'only in the reply to the booking request' },
    },
    ['id', 'org', 'roomId', 'title', 'start', 'end', 'joinAlias', 'joinLink', 'status', 'participants', 'createdBy', 'createdAt'],
  ),
  NewBooking: obj(
    {
      org: ref('OrgName'),
      title: text(200),
      start: dateTime,
      end: dateTime,
      participants: { type: 'array', minItems: 1, maxItems: 100, items: ref('Participant') },
      templateId: { type: 'string', maxLength: 64 },
      maxParticipants: { type: 'integer', minimum: 2, maximum: 100 },
    },
    ['title', 'start', 'end', 'participants'],
  ),
  Invitation: obj(
    {
      id: { type: 'integer' },
      org: { type: 'string' },
      bookingId: { type: 'string' },
      channel: { type: 'string', enum: ['sms', 'email'] },
      recipient: { type: 'string' },
      subject: { type: 'string' },
      body: { type: 'string' },
      status: { type: 'string', enum: ['queued', 'sent', 'stored', 'failed'] },
      attempts: { type: 'integer', minimum: 0 },
      lastError: { type: 'string' },
      createdAt: dateTime,
      updatedAt: dateTime,
    },
    ['id', 'org', 'channel', 'recipient', 'body', 'status', 'attempts', 'createdAt', 'updatedAt'],
  ),
  Template: obj(
    { id: { type: 'string' }, org: { type: 'string' }, name: { type: 'string' }, smsText: { type: 'string' }, emailSubject: { type: 'string' }, emailText: { type: 'string' }, isDefault: { type: 'boolean' }, createdAt: dateTime },
    ['id', 'org', 'name', 'smsText', 'emailSubject', 'emailText', 'isDefault', 'createdAt'],
  ),
  NewTemplate: obj({ org: ref('OrgName'), name: text(100), smsText: text(640), emailSubject: text(200), emailText: text(10_000), isDefault: { type: 'boolean' } }, ['name', 'smsText', 'emailSubject', 'emailText']),
  TemplatePatch: obj({ name: text(100), smsText: text(640), emailSubject: text(200), emailText: text(10_000), isDefault: { type: 'boolean' } }),
  ServiceWindow: obj({ id: { type: 'string' }, start: dateTime, end: dateTime, description: { type: 'string' }, createdBy: { type: 'string' }, createdAt: dateTime }, ['id', 'start', 'end', 'description', 'createdBy', 'createdAt']),
  NewServiceWindow: obj({ start: dateTime, end: dateTime, description: text(1000) }, ['start', 'end', 'description']),
  AbuseBlock: obj(
    { id: { type: 'string' }, kind: { type: 'string', enum: ['ip', 'account'] }, value: { type: 'string' }, reason: { type: 'string' }, until: dateTime, createdBy: { type: 'string' }, createdAt: dateTime },
    ['id', 'kind', 'value', 'reason', 'createdBy', 'createdAt'],
  ),
  NewAbuseBlock: obj({ kind: { type: 'string', enum: ['ip', 'account'] }, value: text(300), reason: text(500), until: dateTime }, ['kind', 'value', 'reason']),
  Usage: obj(
    {
      scope: { type: 'string', enum: ['node', 'organisation'] },
      ports: { type: 'integer', minimum: 0 },
      licences: { type: 'number', minimum: 0 },
      media: { type: 'number', minimum: 0 },
      byKind: obj({ video: { type: 'integer' }, audio: { type: 'integer' }, browser: { type: 'integer' } }, ['video', 'audio', 'browser']),
      limits: obj({ maxPorts: { type: ['integer', 'null'] }, maxLicences: { type: ['number', 'null'] }, mediaCapacity: { type: ['number', 'null'] } }, ['maxPorts', 'maxLicences', 'mediaCapacity']),
      orgs: { type: 'array', items: obj({ org: { type: 'string' }, ports: { type: 'integer', minimum: 0 }, quota: { type: ['integer', 'null'] } }, ['org', 'ports', 'quota']) },
    },
    ['scope', 'orgs'],
  ),
  Registration: obj(
    {
      protocol: { type: 'string', enum: ['sip', 'h323'] },
      id: { type: 'string' },
      org: { type: ['string', 'null'] },
      aliases: { type: 'array', items: { type: 'string' } },
      contact: { type: 'string' },
      userAgent: { type: ['string', 'null'] },
      expiresAt: dateTime,
    },
    ['protocol', 'id', 'org', 'aliases', 'contact', 'userAgent', 'expiresAt'],
  ),
  MonthlyReport: obj(
    {
      month: { type: 'string' },
      // The KPI figures are the stats module's own (see src/stats/report.ts MonthlyKpis).
      kpis: { type: 'object' },
      charts: obj({ portsDay: { type: 'string' }, dailyMinutes: { type: 'string' }, licencesMonth: { type: 'string' } }, ['portsDay', 'dailyMinutes', 'licencesMonth']),
    },
    ['month', 'kpis', 'charts'],
  ),
  AuditEntry: obj(
    {
      id: { type: 'integer' },
      at: dateTime,
      actor: { type: 'string' },
      org: { type: ['string', 'null'] },
      role: { type: ['string', 'null'] },
      action: { type: 'string' },
      method: { type: 'string' },
      path: { type: 'string' },
      status: { type: 'integer' },
      ip: { type: ['string', 'null'] },
      detail: { type: ['string', 'null'] },
    },
    ['id', 'at', 'actor', 'org', 'role', 'action', 'method', 'path', 'status', 'ip', 'detail'],
  ),
};

export const listOf = (name: string): JsonSchema => ({ type: 'array', items: ref(name) });
