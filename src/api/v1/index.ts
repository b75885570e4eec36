/** The administration and booking API (issue 7): what the node and the SIP layer use. */
export { createApiServer, createApiServices, startApiServer, type ApiDeps, type ApiHandle, type ApiServer, type ApiStats } from './server.js';
export { parseApiConfig, defaultApiConfig, ApiConfigError, type ApiConfig } from './config.js';
export { apiMigrations } from './migrations.js';
export { AbuseBlocks, type AbuseBlock } from './abuse.js';
export { RoomLogos, sanitiseLogo } from './branding.js';
export { HttpSmsGateway, Outbox, type MessageSender } from './notify.js';
export type { ApiServices } from './routes.js';
export type { Principal, Role } from './identity.js';
