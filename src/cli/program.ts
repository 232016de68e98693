import { Argument, Command, CommanderError, Option } from 'commander';
import { ErrorCode, EXIT_CODES } from '../protocol/codes.js';
import { SigilError } from '../protocol/errors.js';
import { terminalText } from '../util/terminal-text.js';
import { VERSION } from '../version.js';

/**
 * The `sigil` command tree. Command bodies live one concern per file under commands/ and
 * are imported only when their command runs, so `sigil status` loads none of the rest.
 */
type Action = (...args: never[]) => Promise<void>;

function lazy<M>(load: () => Promise<M>, pick: (m: M) => Action): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const fn = pick(await load()) as (...a: unknown[]) => Promise<void>;
    // commander passes (...positionals, options, command): drop the command object.
    await fn(...args.slice(0, -1));
  };
}

const vault = () => import('./commands/vault-cmds.js');
const secrets = () => import('./commands/secret-cmds.js');
const tokens = () => import('./commands/token-cmds.js');
const accounts = () => import('./commands/accounts-cmds.js');
const refs = () => import('./commands/ref-cmds.js');
const authz = () => import('./commands/authorize-cmds.js');
const providersCmd = () => import('./commands/provider-cmds.js');

/** Short meanings for the help footer; typed by ErrorCode so a new code cannot be missed. */
const MEANING: Record<ErrorCode, string> = {
  INTERNAL: 'internal error',
  BAD_REQUEST: 'usage',
  NO_AGENT: 'no agent',
  LOCKED: 'locked',
  BAD_PASSPHRASE: 'bad passphrase',
  RATE_LIMITED: 'rate limited',
  NOT_FOUND: 'not found',
  ALREADY_EXISTS: 'already exists',
  REAUTH_REQUIRED: 're-auth required',
  PROVIDER_ERROR: 'provider error',
  FLOW_TIMEOUT: 'flow timeout',
  FORBIDDEN: 'forbidden',
  UNSUPPORTED_VERSION: 'protocol mismatch',
  UNKNOWN_OP: 'protocol mismatch',
  FRAME_TOO_LARGE: 'protocol mismatch',
  REMOTE_ERROR: 'sync remote failed',
};

function helpFooter(): string {
  const byCode = new Map<number, string>([[0, 'ok']]);
  for (const [code, exit] of Object.entries(EXIT_CODES)) byCode.set(exit, MEANING[code as ErrorCode]);
  const list = [...byCode.entries()].sort((a, b) => a[0] - b[0]).map(([n, m]) => `${n} ${m}`);
  const lines: string[] = [];
  let line = 'Exit codes:';
  for (const item of list) {
    if (line.length + item.length + 2 > 80) {
      lines.push(line + ',');
      line = ' ';
    } else if (!line.endsWith(':')) line += ',';
    line += ' ' + item;
  }
  lines.push(line);
  return `\nThe agent is found through $SIGIL_AUTH_SOCK; start one with: eval "$(sigil-agent)"\n${lines.join('\n')}`;
}

const workFactor = () => new Option('--scrypt-work-factor <n>', 'scrypt cost as log2(N) (default 18)').hideHelp();

export function buildProgram(): Command {
  const program = new Command('sigil')
    .description('Sigilforge: credentials and OAuth tokens for developers and their scripts, held by sigil-agent')
    .version(`sigil ${VERSION}`, '-V, --version')
    .showHelpAfterError('(run sigil --help for usage)')
    .addHelpText('after', helpFooter())
    // sigil's own options (-V, --help) only before the command: `sigil ssh` hands every word after it to ssh.
    .enablePositionalOptions()
    .option('--direct', 'no agent: this command decrypts the vault itself, and locks it when done')
    .option('--passphrase-stdin', 'with --direct: read the vault passphrase from the first line of stdin');
  program.hook('preAction', async (_root, action) => {
    const opts = program.opts<{ direct?: boolean; passphraseStdin?: boolean }>();
    if (!opts.direct) {
      if (opts.passphraseStdin) throw new SigilError(ErrorCode.BAD_REQUEST, '--passphrase-stdin before the command goes with --direct (or give it after unlock, init or passwd)');
      return;
    }
    const direct = await import('./direct-mode.js');
    leaveDirect = direct.leaveDirect;
    await direct.enterDirect(action, opts);
  });

  program
    .command('init')
    .description('create the vault (asks for a passphrase twice)')
    .option('--passphrase-stdin', 'read the passphrase from stdin')
    .addOption(workFactor())
    .action(lazy(vault, (m) => m.init));
  program
    .command('unlock')
    .description('decrypt the vault into the agent')
    .option('--passphrase-stdin', 'read the passphrase from stdin')
    .option('--remember', 'also keep the passphrase in the OS keyring, so the agent unlocks itself at start')
    .option('--forget', 'remove the passphrase from the OS keyring (the agent no longer unlocks itself)')
    .action(lazy(vault, (m) => m.unlock));
  program.command('lock').description('drop every decrypted secret from the agent').action(lazy(vault, (m) => m.lock));
  program
    .command('passwd')
    .description('change the vault passphrase')
    .option('--passphrase-stdin', 'read the old and the new passphrase from stdin, one per line')
    .addOption(workFactor())
    .action(lazy(vault, (m) => m.passwd));
  program
    .command('rekey')
    .description('give the vault a new key (identity) and re-encrypt it; prints the new recipient')
    .option('--passphrase-stdin', 'read the passphrase from stdin')
    .action(lazy(vault, (m) => m.rekey));
  program
    .command('status')
    .description('show whether the agent is locked, when it will lock, and what it holds')
    .option('--json', 'print JSON')
    .action(lazy(() => import('./commands/status.js'), (m) => m.status));

  const secret = program.command('secret').description('free-form secrets (API keys, passwords)');
  secret
    .command('set <name>')
    .description('store a secret (asked on the terminal, or read with --stdin)')
    .option('--stdin', 'read the value from stdin')
    .option('--no-overwrite', 'fail if the secret exists')
    .option('--expires-in <duration>', 'the secret stops answering after this long (e.g. 30d)')
    .action(lazy(secrets, (m) => m.secretSet));
  secret.command('get <name>').description('print a secret').option('--json', 'print JSON').action(lazy(secrets, (m) => m.secretGet));
  secret.command('list [prefix]').alias('ls').description('list secret names').option('-l, --long', 'with each one\'s expiry').option('--json', 'print JSON').action(lazy(secrets, (m) => m.secretList));
  secret.command('rm <name>').description('delete a secret').action(lazy(secrets, (m) => m.secretRm));
  secret
    .command('history <name>')
    .description('list the previous versions kept of a secret, newest first (never their values)')
    .option('--json', 'print JSON')
    .action(lazy(secrets, (m) => m.secretHistory));
  secret
    .command('rollback <name> <version>')
    .description('make a previous version current again (the current value is kept as a new version)')
    .action(lazy(secrets, (m) => m.secretRollback));

  const token = program.command('token').description('access tokens of accounts');
  token
    .command('set <service> <account>')
    .description('store a static token or API key (asked on the terminal, or read with --stdin)')
    .option('--stdin', 'read the token from stdin')
    .option('--type <type>', 'token type for the Authorization header', 'Bearer')
    .option('--expires-in <duration>', 'the token stops working after this long (e.g. 90d)')
    .action(lazy(tokens, (m) => m.tokenSet));
  token
    .command('ensure <service> <account>')
    .description('make sure a valid token exists, refreshing it if due; prints nothing secret')
    .option('-q, --quiet', 'say nothing; the exit status tells')
    .action(lazy(tokens, (m) => m.tokenEnsure));
  token.command('refresh <service> <account>').description('refresh an OAuth token now').action(lazy(tokens, (m) => m.tokenRefresh));
  token
    .command('get <service> <account>')
    .description('print a valid access token')
    .option('--format <format>', 'bare | header | json', 'bare')
    .option('--json', 'same as --format json')
    .action(lazy(tokens, (m) => m.tokenGet));

  const account = program.command('accounts').description('accounts and their health');
  const flowOptions = (c: Command) =>
    c
      .option('--device', 'use the device flow (a code to enter on any device)')
      .option('--browser', 'use the browser flow (authorization code + PKCE)')
      .option('--scopes <scopes>', 'scopes to ask for, space- or comma-separated (default: the provider preset or config)')
      .option('--no-open', 'print the sign-in URL instead of opening a browser');
  flowOptions(account.command('add <service> <account>').description('add an OAuth account: sign in with the browser or a device code')).action(
    lazy(authz, (m) => m.accountsAdd),
  );
  flowOptions(account.command('authorize <service> <account>').description('sign an account in again')).action(lazy(authz, (m) => m.accountsAuthorize));
  account.command('list').alias('ls').description('list accounts').option('--json', 'print JSON').action(lazy(accounts, (m) => m.accountsList));
  account
    .command('remove <service> <account>')
    .alias('rm')
    .description('delete an account and its credentials, revoking the grant at the provider')
    .option('--json', 'print JSON (with the revocation outcome)')
    .action(lazy(accounts, (m) => m.accountsRemove));

  const provider = program.command('providers').description('OAuth providers: built-in presets and config.toml');
  provider.command('list').alias('ls').description('list providers and whether they are ready').option('--json', 'print JSON').action(lazy(providersCmd, (m) => m.providersList));
  provider
    .command('add <name>')
    .description('add an OAuth provider to config.toml: an OpenID issuer (checked by discovery) or explicit endpoints')
    .option('--issuer <url>', 'OpenID Connect issuer, found by discovery')
    .option('--authorization-endpoint <url>', 'explicit authorization endpoint (plain OAuth 2.0)')
    .option('--token-endpoint <url>', 'explicit token endpoint')
    .option('--device-endpoint <url>', 'explicit device authorization endpoint')
    .option('--revocation-endpoint <url>', 'explicit revocation endpoint')
    .requiredOption('--client-id <id>', 'the OAuth client id registered with the provider')
    .option('--scopes <scopes>', 'default scopes, space- or comma-separated')
    .action(lazy(providersCmd, (m) => m.providersAdd));
  provider
    .command('secret <service>')
    .description("store a provider's client secret in the vault (asked on the terminal, or --stdin), or --remove it")
    .option('--stdin', 'read the secret from stdin')
    .option('--remove', 'remove the stored client secret (a public client needs none)')
    .action(lazy(providersCmd, (m) => m.providersSecret));

  program
    .command('resolve <ref>')
    .description('print the value of an auth://, secret:// or vals ref+BACKEND:// reference')
    .option('--json', 'print JSON')
    .action(lazy(refs, (m) => m.resolveRef));
  program
    .command('check <ref>')
    .description('check that a reference is valid and resolvable, without printing it')
    .option('-q, --quiet', 'say nothing; the exit status tells')
    .option('--json', 'print JSON: {ref, ok} (and code, message when not ok)')
    .action(lazy(refs, (m) => m.checkRef));
  program
    .command('run')
    .description('run a command, resolving references in its environment')
    .usage('[options] -- <command> [args...]')
    .option('--env-file <file>', 'also load variables from a dotenv file (repeatable)', (f: string, prev?: string[]) => [...(prev ?? []), f])
    .option('--no-masking', "show resolved values in the command's output")
    .allowExcessArguments()
    .addHelpText(
      'after',
      `
Every environment variable whose value is an auth://, secret:// or ref+ reference
(env files apply over the inherited environment, later files win) is resolved
through the agent just before <command> starts. <command> gets the values in its
environment, never on its command line. Its stdout and stderr go through pipes
that print <concealed by sigil> in place of each value (values shorter than 3
characters are not masked); --no-masking gives it the terminal untouched.
A reference that cannot be resolved starts nothing. The exit status is the
command's own (128+N when signal N ended it).`,
    )
    // No declared arguments (cmd.args holds them), so the help keeps its command column width.
    .action(async (opts: { envFile?: string[]; masking: boolean }, cmd: Command) => {
      const { run } = await import('./commands/run-cmd.js');
      await run(cmd.args, opts);
    });
  program
    .command('ssh')
    .description('ssh to a host with the agent forwarded there')
    .usage('[ssh options] <host> [command...]')
    // Every word is ssh's (its -p, -l, -i… and the remote command's own options).
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .addHelpText(
      'after',
      `
Runs ssh with the agent's socket forwarded (-R) to a fresh private socket on <host>,
removed when the session ends. There sigil-token, sigil and git's credential helper
use it with no set-up, and an rc file's eval "$(sigil-agent)" keeps it. A caller on
<host> (anyone who can reach that socket, root there included) may use only what
config.toml's [[policy]] forward opens, each use confirmed unless the rule says
confirm = false; it can never change the vault. The exit status is ssh's.`,
    )
    .action(async (_opts: unknown, cmd: Command) => {
      if (cmd.args.length === 1 && (cmd.args[0] === '--help' || cmd.args[0] === '-h')) return cmd.help();
      const { sshCommand } = await import('./commands/ssh-cmd.js');
      await sshCommand(cmd.args);
    });
  const syncCmds = () => import('./commands/sync-cmds.js');
  const sync = program
    .command('sync')
    .description('sync the vault with the other devices over git (pull, merge, push)')
    .option('--json', 'print JSON')
    .action(lazy(syncCmds, (m) => m.syncNow));
  sync
    .command('init <remote>')
    .description('make this vault sync with a git remote (any git URL or path); this machine becomes its first device')
    .option('--name <name>', "this device's name (default: the host name)")
    .option('--json', 'print JSON')
    .action(lazy(syncCmds, (m) => m.syncInit));
  program
    .command('join <remote>')
    .description('take a synced vault onto this device: clone it and create this device\'s key')
    .option('--name <name>', "this device's name (default: the host name)")
    .option('--passphrase-stdin', "read this device's new passphrase from stdin (its first line)")
    .addOption(workFactor())
    .action(lazy(syncCmds, (m) => m.joinVault));
  const device = program.command('device').description('the devices a synced vault is encrypted to');
  device.command('list').alias('ls').description('list the devices and the last sync').option('--json', 'print JSON').action(lazy(syncCmds, (m) => m.deviceList));
  device.command('add <name> <recipient>').description('encrypt the vault to a new device (its age1… recipient, from sigil join) and push').action(lazy(syncCmds, (m) => m.deviceAdd));
  device
    .command('remove <name>')
    .alias('rm')
    .description('re-encrypt the vault without a device and push; lists what it could read')
    .option('--json', 'print JSON')
    .action(lazy(syncCmds, (m) => m.deviceRemove));
  program
    .command('inject')
    .description('fill the {{ reference }} placeholders of a template')
    .option('-i, --in-file <file>', 'the template ("-": stdin, the default)')
    .option('-o, --out-file <file>', 'write to this file, mode 0600 (default: stdout)')
    .option('-f, --force', 'replace the output file if it exists')
    .action(lazy(() => import('./commands/inject-cmd.js'), (m) => m.inject));
  program
    .command('age-key')
    .description("print the vault's age identity (for SOPS_AGE_KEY_CMD)")
    .option('--generate', 'create the identity (fails if one exists); prints its recipient')
    .option('--import', 'adopt the identity in an age key file on stdin, such as sops keys.txt (fails if one exists)')
    .option('--recipient', 'print its public age1… recipient instead')
    .addHelpText(
      'after',
      `
The identity (AGE-SECRET-KEY-1…) is the vault secret age/identity. For SOPS:
  export SOPS_AGE_KEY_CMD="sigil age-key"
and encrypt to the key that sigil age-key --recipient prints.`,
    )
    .action(lazy(() => import('./commands/age-key-cmd.js'), (m) => m.ageKey));
  program
    .command('audit')
    .description('show the audit log (newest last)')
    .option('-n, --lines <n>', 'how many entries', '20')
    .option('-f, --follow', 'keep printing new entries')
    .option('--json', 'print JSON')
    .action(lazy(() => import('./commands/audit-cmd.js'), (m) => m.audit));
  program
    .command('logs')
    .description("show the background agent's log (newest last)")
    .option('-n, --lines <n>', 'how many lines', '20')
    .option('-f, --follow', 'keep printing new lines')
    .action(lazy(() => import('./commands/logs-cmd.js'), (m) => m.logs));

  program
    .command('tui')
    .description('full-screen UI: accounts, sign-ins, audit log, lock')
    .action(async () => {
      // The esbuild bundle of src/tui (scripts/build.mjs), loaded only now: ink and react
      // cost nothing to the other commands, and load as one file instead of hundreds.
      const bundle = new URL('../tui/tui.mjs', import.meta.url).href;
      const { runTui } = (await import(bundle)) as typeof import('../tui/run-tui.js');
      await runTui();
    });
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish)')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      `
Load it from the shell's rc file:
  bash: source <(sigil completion bash)
  zsh:  source <(sigil completion zsh)     (after compinit)
  fish: sigil completion fish | source
Service and account names complete from the running agent (none without one).`,
    )
    // The script is generated from this very command tree (program.commands, recursively).
    .action(async (shell: string, _opts: unknown, cmd: Command) => {
      const { completion } = await import('./commands/completion-cmd.js');
      await completion(shell, cmd.parent!);
    });

  return program;
}

/** Set once `--direct` started a session: ends it (direct-mode.ts). */
let leaveDirect: (() => Promise<void>) | null = null;

/** Runs the CLI and returns the exit status: SigilError codes map through EXIT_CODES. */
export async function cliMain(argv: string[]): Promise<number> {
  try {
    return await runCli(argv);
  } finally {
    await leaveDirect?.().catch((err: unknown) => process.stderr.write(`sigil: ending --direct: ${(err as Error)?.message ?? String(err)}\n`));
  }
}

async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  const overrideExit = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(overrideExit);
  };
  overrideExit(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version "fail" with exit code 0.
      return err.exitCode === 0 ? 0 : EXIT_CODES.BAD_REQUEST;
    }
    if (err instanceof SigilError) {
      process.stderr.write(`sigil: ${terminalText(err.message, { lines: true })}\n`);
      return err.exitCode;
    }
    process.stderr.write(`sigil: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT_CODES.INTERNAL;
  }
}
