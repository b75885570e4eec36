/**
 * `knude report month YYYY-MM` (the monthly KPI table and its SVG charts) and
 * `knude cdr export` (call and meeting records of a period as CSV or JSON, pseudonymised
 * unless --raw). Wired into the CLI by commands.ts with its own store helper:
 * addReportCommands(program, { withStore }).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { dataPath } from '../config/load.js';
import type { KnudeConfig } from '../config/schema.js';
import type { DialPlanStore } from '../dialplan/index.js';
import { AvailabilityStore } from '../stats/availability.js';
import { CdrStore } from '../stats/cdr.js';
import { StatsError } from '../stats/errors.js';
import { exportRecords, loadOrCreateExportKey, type ExportFormat, type ExportRecords } from '../stats/export.js';
import { monthlyReport, renderKpiTable, type MonthlyReport } from '../stats/report.js';
import { parseDay } from '../stats/time.js';
import { StoreError } from '../store/database.js';

/** The file in the data directory holding the key that keeps export pseudonyms stable. */
export const EXPORT_KEY_FILE = 'stats-export.key';

/**
 * A report command the user can fix: one line, exit code 2. It is a StoreError so the CLI's
 * `main` already prints it that way; StatsErrors (bad month, bad time, ...) become one.
 */
export class ReportCommandError extends StoreError {
  override name = 'ReportCommandError';
}

export interface ReportCliHelpers {
  /** Opens the node's store for one command (commands.ts's withStore fits). */
  withStore<T>(cmd: Command, fn: (stores: { plan: DialPlanStore; config: KnudeConfig }) => T): T;
  /** Where output goes; process.stdout by default. */
  write?(text: string): void;
  /** Where notes go; process.stderr by default. */
  warn?(text: string): void;
}

function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof StatsError) throw new ReportCommandError(err.message);
    throw err;
  }
}

/** --from/--to: an ISO time with a zone, or a day YYYY-MM-DD meaning its start in reports.timeZone. */
function periodBound(value: string, option: string, timeZone: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return new Date(parseDay(value, timeZone)).toISOString();
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) return value;
  throw new ReportCommandError(`${option} "${value}" must be a day YYYY-MM-DD or an ISO 8601 time with a zone`);
}

function writeFile(path: string, text: string, mode = 0o644): void {
  try {
    writeFileSync(path, text, { mode });
  } catch (err) {
    throw new ReportCommandError(`cannot write ${path}: ${(err as Error).message}`);
  }
}

function writeCharts(dir: string, r: MonthlyReport): string[] {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new ReportCommandError(`cannot create ${dir}: ${(err as Error).message}`);
  }
  const files: Array<[string, string]> = [
    [`ports-${r.portsDay}.svg`, r.charts.portsDay],
    [`daily-minutes-${r.month}.svg`, r.charts.dailyMinutes],
    [`licences-${r.month}.svg`, r.charts.licencesMonth],
  ];
  return files.map(([name, svg]) => {
    const path = join(dir, name);
    writeFile(path, svg);
    return path;
  });
}

export function addReportCommands(program: Command, helpers: ReportCliHelpers): void {
  const write = helpers.write ?? ((text: string) => void process.stdout.write(text));
  const warn = helpers.warn ?? ((text: string) => void process.stderr.write(text));

  program
    .command('report')
    .description('statistics reports')
    .command('month <month...>')
    .description('the monthly KPI table (one column per month, YYYY-MM, in reports.timeZone) and its charts')
    .option('--format <md|json>', 'a Markdown table or the full report as JSON', 'md')
    .option('--charts <dir>', 'write the charts as SVG files into this directory')
    .option('--day <YYYY-MM-DD>', 'the day drawn in the concurrent-ports chart (default: the day of the capacity peak)')
    .action((months: string[], opts: { format: string; charts?: string; day?: string }, cmd: Command) =>
      helpers.withStore(cmd, ({ plan, config }) =>
        guarded(() => {
          if (opts.format !== 'md' && opts.format !== 'json') throw new ReportCommandError('--format must be md or json');
          if (opts.day !== undefined && months.length > 1) throw new ReportCommandError('--day needs exactly one month');
          const cdr = new CdrStore(plan.db, { node: config.node.name });
          const availability = new AvailabilityStore(plan.db, { node: config.node.name });
          const reports = months.map((month) => monthlyReport({ month, cdr, availability, timeZone: config.reports.timeZone, ...(opts.day ? { day: opts.day } : {}) }));
          const charts = opts.charts ? reports.flatMap((r) => writeCharts(opts.charts!, r)) : [];
          if (opts.format === 'json') {
            write(`${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`);
          } else {
            write(renderKpiTable(reports));
            for (const r of reports) {
              const k = r.kpis;
              if (k.capacityPeakAt) write(`${r.month}: capacity peak ${k.capacityPeak} ports at ${k.capacityPeakAt}; licence peak ${k.licencePeak} at ${k.licencePeakAt ?? '-'}\n`);
            }
          }
          if (charts.length) warn(`charts written: ${charts.join(' ')}\n`);
        }),
      ),
    );

  program
    .command('cdr')
    .description('call detail records')
    .command('export')
    .description('call records (or meeting records) of [--from, --to) as CSV or JSON; personal data pseudonymised unless --raw')
    .requiredOption('--from <time>', 'start: YYYY-MM-DD (midnight in reports.timeZone) or ISO 8601 time with a zone')
    .requiredOption('--to <time>', 'end, exclusive: YYYY-MM-DD (midnight in reports.timeZone) or ISO 8601 time with a zone')
    .option('--format <csv|json>', 'output format', 'csv')
    .option('--records <legs|meetings>', 'which records (CSV: legs by default; JSON: both by default)')
    .option('--raw', 'aliases and names in clear (an operator request: personal data)')
    .option('--out <file>', 'write to this file instead of standard output')
    .action((opts: { from: string; to: string; format: string; records?: string; raw?: boolean; out?: string }, cmd: Command) =>
      helpers.withStore(cmd, ({ plan, config }) =>
        guarded(() => {
          if (opts.format !== 'csv' && opts.format !== 'json') throw new ReportCommandError('--format must be csv or json');
          if (opts.records !== undefined && opts.records !== 'legs' && opts.records !== 'meetings') throw new ReportCommandError('--records must be legs or meetings');
          const cdr = new CdrStore(plan.db, { node: config.node.name });
          const text = exportRecords(cdr, {
            from: periodBound(opts.from, '--from', config.reports.timeZone),
            to: periodBound(opts.to, '--to', config.reports.timeZone),
            format: opts.format as ExportFormat,
            ...(opts.records ? { records: opts.records as ExportRecords } : {}),
            pseudonymise: !opts.raw,
            ...(opts.raw ? {} : { key: loadOrCreateExportKey(dataPath(config, EXPORT_KEY_FILE)) }),
          });
          if (opts.raw) warn('knude: raw export: the output holds personal data (aliases and names)\n');
          if (opts.out) writeFile(opts.out, text, opts.raw ? 0o600 : 0o644);
          else write(text);
        }),
      ),
    );
}
