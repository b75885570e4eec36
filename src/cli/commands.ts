import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import type { KnudeConfig } from '../config/schema.js';
import { readFileSync } from 'node:fs';
import { DialPlanError, DialPlanRouter, DialPlanStore, explain, exportPlan, importPlan, type RouteCaller } from '../dialplan/index.js';
import { RegistrarError } from '../registrar/errors.js';
import { StoreError } from '../store/database.js';
import { CertificateError } from '../util/tls-cert.js';
import { AccountStore } from '../registrar/accounts.js';
import { openStore, startNode, StartupError } from '../node.js';
import { addCertCommands } from './cert.js';
import { addReportCommands } from './report.js';
import { addRoomCommands } from './rooms.js';
import { createLogger } from '../util/logger.js';

/** An error the user can fix: printed as one line, exit code 2, no stack trace. */
class UsageError extends Error {
  override name = 'UsageError';
}

function config(cmd: Command): KnudeConfig {
  const file = (cmd.optsWithGlobals() as { config?: string }).config;
  return loadConfig({ file, env: process.env });
}

function withStore<T>(cmd: Command, fn: (stores: { accounts: AccountStore; plan: DialPlanStore; config: KnudeConfig }) => T): T {
  const c = config(cmd);
  const db = openStore(c);
  try {
    return fn({ accounts: new AccountStore(db), plan: new DialPlanStore(db), config: c });
  } finally {
    db.close();
  }
}

function print(rows: Array<Record<string, unknown>>, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cols = Object.keys(rows[0]);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(width[i])).join('  ').trimEnd();
  process.stdout.write(`${line(cols)}\n${rows.map((r) => line(cols.map((c) => String(r[c] ?? '')))).join('\n')}\n`);
}

export function buildCli(): Command {
  const program = new Command('knude')
    .description('knude video node: SIP registrar, alias plan, meeting rooms, capacity')
    .option('-c, --config <file>', 'configuration file (YAML or JSON)')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('start')
    .description('start the node (SIP, HTTP) and run until SIGINT/SIGTERM; SIGHUP reloads the TLS certificates')
    .action(async (_opts, cmd: Command) => {
      const c = config(cmd);
      const log = createLogger(c);
      const node = await startNode(c, log);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          log.info({ signal }, 'shutting down');
          node.stop().then(resolve, (err) => {
            log.error({ err }, 'shutdown failed');
            resolve();
          });
        };
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
        // A renewed certificate is taken up without a restart (and without dropping calls).
        process.on('SIGHUP', () => {
          try {
            node.reloadCertificates();
          } catch (err) {
            log.error({ err: (err as Error).message }, 'reloading the TLS certificates failed; the old ones stay in use');
          }
        });
      });
    });

  const org = program.command('org').description('organisations');
  org
    .command('add <name>')
    .description('add an organisation (name: lowercase letters, digits and dashes)')
    .option('--display-name <text>', 'human-readable name')
    .option('--block <prefix...>', 'E.164 number blocks it owns, e.g. +4640')
    .option('--domain <domain...>', 'URI domains it owns')
    .action((name: string, opts: { displayName?: string; block?: string[]; domain?: string[] }, cmd: Command) =>
      withStore(cmd, ({ plan }) => {
        plan.batch(() => {
          plan.createOrg({ name, displayName: opts.displayName });
          for (const b of opts.block ?? []) plan.addBlock(name, b);
          for (const d of opts.domain ?? []) plan.addDomain(name, d);
        });
        process.stdout.write(`organisation ${name} added\n`);
      }),
    );
  org
    .command('list')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }, cmd: Command) =>
      withStore(cmd, ({ plan }) =>
        print(
          plan.listOrgs().map((o) => ({
            name: o.name,
            displayName: o.displayName,
            blocks: plan.listBlocks(o.name).map((b) => `+${b.prefix}`).join(' '),
            domains: plan.listDomains(o.name).map((d) => d.domain).join(' '),
          })),
          !!opts.json,
        ),
      ),
    );

  const account = program.command('account').description('SIP accounts that register endpoints');
  account
    .command('add')
    .description('add a SIP account with optional aliases')
    .requiredOption('--org <name>', 'organisation the account belongs to')
    .requiredOption('--user <username>', 'SIP username (the user part of its address)')
    .requiredOption('--password <password>', 'digest password')
    .option('--alias <alias...>', 'E.164 numbers or URIs that reach this account')
    .option('--display-name <text>', 'display name')
    .option('--public', 'its aliases may be reached by external callers')
    .action((opts: { org: string; user: string; password: string; alias?: string[]; displayName?: string; public?: boolean }, cmd: Command) =>
      withStore(cmd, ({ accounts, plan, config: c }) => {
        if (!plan.getOrg(opts.org)) throw new UsageError(`no organisation named "${opts.org}" (add it with: knude org add ${opts.org})`);
        const realm = c.sip.domain;
        plan.batch(() => {
          accounts.add({ org: opts.org, username: opts.user, password: opts.password, realm, displayName: opts.displayName });
          for (const a of opts.alias ?? []) {
            plan.addAlias({ alias: a, kind: 'account', target: `${opts.user}@${realm}`, org: opts.org, public: !!opts.public });
          }
        });
        process.stdout.write(`account ${opts.user}@${realm} added to ${opts.org}\n`);
      }),
    );
  account
    .command('list')
    .option('--org <name>', 'only this organisation')
    .option('--json', 'machine-readable output')
    .action((opts: { org?: string; json?: boolean }, cmd: Command) =>
      withStore(cmd, ({ accounts, plan }) => {
        const aliases = plan.listAliases({ org: opts.org }).filter((a) => a.kind === 'account');
        print(
          accounts.list({ org: opts.org }).map((a) => ({
            user: a.username,
            realm: a.realm,
            org: a.org,
            displayName: a.displayName ?? '',
            aliases: aliases.filter((x) => x.target === `${a.username}@${a.realm}`).map((x) => x.alias).join(' '),
          })),
          !!opts.json,
        );
      }),
    );
  account
    .command('remove <user>')
    .action((user: string, _opts: unknown, cmd: Command) =>
      withStore(cmd, ({ accounts, plan, config: c }) => {
        const target = `${user}@${c.sip.domain}`;
        plan.batch(() => {
          for (const a of plan.listAliases().filter((x) => x.kind === 'account' && x.target === target)) plan.removeAlias(a.alias);
          accounts.remove(user, c.sip.domain);
        });
        process.stdout.write(`account ${target} removed\n`);
      }),
    );

  addRoomCommands(program, { withStore, print });
  addReportCommands(program, { withStore });
  addCertCommands(program, { withStore });

  const planCmd = program.command('plan').description('the whole alias plan as one document');
  planCmd
    .command('export')
    .description('print the plan (organisations, blocks, domains, aliases, zones, transforms, policy)')
    .option('--format <yaml|json>', 'document format', 'yaml')
    .option('--with-secrets', 'include zone credentials (redacted by default)')
    .action((opts: { format: string; withSecrets?: boolean }, cmd: Command) =>
      withStore(cmd, ({ plan }) => {
        if (opts.format !== 'yaml' && opts.format !== 'json') throw new UsageError('--format must be yaml or json');
        process.stdout.write(exportPlan(plan, opts.format, { redactSecrets: !opts.withSecrets }));
      }),
    );
  planCmd
    .command('import <file>')
    .description('replace the plan with a YAML or JSON document, all or nothing')
    .option('--dry-run', 'validate only')
    .action((file: string, opts: { dryRun?: boolean }, cmd: Command) =>
      withStore(cmd, ({ plan }) => {
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (err) {
          throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
        }
        const summary = importPlan(plan, text, { dryRun: !!opts.dryRun });
        const counts = Object.entries(summary).map(([k, v]) => `${v} ${k}`).join(', ');
        process.stdout.write(`${opts.dryRun ? 'valid' : 'imported'}: ${counts}\n`);
      }),
    );

  program
    .command('route <alias>')
    .description('explain how a dialled alias is routed')
    .option('--from <org>', 'the caller is an endpoint of this organisation')
    .option('--external', 'the caller is not connected (internet)')
    .option('--json', 'machine-readable output')
    .action((alias: string, opts: { from?: string; external?: boolean; json?: boolean }, cmd: Command) =>
      withStore(cmd, ({ plan }) => {
        if (!!opts.from === !!opts.external) throw new UsageError('give exactly one of --from ORG or --external');
        if (opts.from && !plan.getOrg(opts.from)) throw new UsageError(`no organisation named "${opts.from}"`);
        const from: RouteCaller = opts.from ? { kind: 'account', org: opts.from, username: '(cli)' } : { kind: 'external', address: 'cli' };
        const router = new DialPlanRouter(plan);
        try {
          const decision = router.route({ dialled: alias, from });
          process.stdout.write(opts.json ? `${JSON.stringify(decision, null, 2)}\n` : `${explain(decision)}\n`);
        } finally {
          router.close();
        }
      }),
    );
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildCli();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const e = err as Error;
    const expected = [UsageError, ConfigError, StartupError, CertificateError, StoreError, RegistrarError, DialPlanError];
    if (expected.some((cls) => err instanceof cls)) {
      process.stderr.write(`knude: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`knude: unexpected error: ${e.stack ?? e.message}\n`);
    return 1;
  }
}
