/** Statistics: call detail records, uptime, the monthly KPI report, exports and metrics. */
export * from './errors.js';
export * from './time.js';
export { statsMigrations } from './migrations.js';
export * from './cdr.js';
export * from './availability.js';
export * from './intervals.js';
export * from './report.js';
export * from './export.js';
export * from './metrics.js';
export { barChart, stepChart } from './svg.js';
