/** Public surface of the dial plan capability. */
export * from './errors.js';
export * from './types.js';
export { dialplanMigrations } from './migrations.js';
export { DialPlanStore, type AliasInput, type ZoneInput, type DialPlanChange, type DialPlanListener, type PlanStructure } from './store.js';
export { normalize, parseDial, canonicalize, toE164, aliasKey, transformSubject, MAX_DIAL_LENGTH, type DialInput, type H323Alias, type H323AliasType, type NumberingPlan, type ParsedDial } from './normalize.js';
export { checkTransform, checkPatternSafety, compilePattern, applyTransforms, MAX_TRANSFORM_PASSES, type TransformInput, type TransformResult, type TransformStep } from './transforms.js';
export { DialPlanRouter, describeCaller, type RouteCaller, type RouteRequest, type RouteDecision, type RouteOutcome, type RouteTarget, type RejectStatus, type TraceStep, type TargetState, type TargetHealth, type ZoneHealth } from './router.js';
export { targetKey } from './plan-index.js';
export { explain, explainRoute, summarize } from './explain.js';
export { exportPlan, importPlan, planDocument, type PlanDocument, type PlanFormat, type ImportSummary } from './document.js';
export { GATEWAY_ZONE } from './validate.js';
export { ZoneProber, srfOptionsSender, optionsRequestUri, classifyProbe, type ZoneProberOptions, type SendOptions, type ProbeTarget, type ProberLog, type ProberStatus, type TargetProbeStatus, type SrfOptionsClient, type SrfOptionsSenderOptions } from './prober.js';
