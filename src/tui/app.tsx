import { Box, Text, useInput } from 'ink';
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { AccountInfo } from '../protocol/results.js';
import { ConfirmUseBox } from './components/ConfirmUseBox.js';
import { HelpOverlay } from './components/HelpOverlay.js';
import { NoticeLine } from './components/NoticeLine.js';
import { StatusBar } from './components/StatusBar.js';
import { TabBar, type Tab } from './components/TabBar.js';
import { DepsContext, KeyCaptureContext, SpillContext, type SpillRows, type TuiDeps } from './deps.js';
import { useAccounts } from './hooks/use-accounts.js';
import { useAgentStatus } from './hooks/use-agent-status.js';
import { useConfirmRequests } from './hooks/use-confirm-requests.js';
import { useConnection } from './hooks/use-connection.js';
import { useDeps } from './hooks/use-deps.js';
import { useLock } from './hooks/use-lock.js';
import { useNotice } from './hooks/use-notice.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { AccountsScreen } from './screens/AccountsScreen.js';
import { AddAccountScreen, type AddPreset } from './screens/AddAccountScreen.js';
import { AuditScreen } from './screens/AuditScreen.js';
import { DetailsScreen } from './screens/DetailsScreen.js';
import { PassphraseScreen } from './screens/PassphraseScreen.js';
import { SecretHistoryScreen } from './screens/SecretHistoryScreen.js';
import { SecretSetScreen, type SecretTarget } from './screens/SecretSetScreen.js';
import { SecretsScreen } from './screens/SecretsScreen.js';
import { terminalText } from '../util/terminal-text.js';

export type Route =
  | { name: 'accounts' }
  | { name: 'details'; service: string; account: string }
  | { name: 'add'; preset?: AddPreset }
  | { name: 'audit' }
  | { name: 'secrets'; select?: string }
  | { name: 'secret-set'; replace?: SecretTarget }
  | { name: 'secret-history'; secret: string };

/** The tab each route belongs to, and the order Tab goes through them. */
const TAB_OF: Record<Route['name'], Tab> = { accounts: 'accounts', details: 'accounts', add: 'accounts', audit: 'audit', secrets: 'secrets', 'secret-set': 'secrets', 'secret-history': 'secrets' };
const TAB_ORDER: Tab[] = ['accounts', 'audit', 'secrets'];

export interface AppProps {
  deps: TuiDeps;
  /** q, Ctrl-C: the caller unmounts, restores the terminal and exits 0. */
  onQuit(): void;
}

export function App({ deps, onQuit }: AppProps) {
  return (
    <DepsContext.Provider value={deps}>
      <Shell onQuit={onQuit} />
    </DepsContext.Provider>
  );
}

/** Lines around the screen: tab bar above; notice line and status bar below. */
const CHROME_ROWS = 3;

function Shell({ onQuit }: { onQuit(): void }) {
  const { now } = useDeps();
  const { rows, columns } = useTerminalSize();
  const { status, error: statusError, refresh: refreshStatus } = useAgentStatus();
  const connection = useConnection();
  const accounts = useAccounts();
  const { notice, notify } = useNotice();
  const [route, setRoute] = useState<Route>({ name: 'accounts' });
  const [help, setHelp] = useState(false);
  const [capture, setCapture] = useState(false);
  const confirm = useConfirmRequests();

  // Seen unlocked once: a later lock waits for Enter before the field takes keys.
  const sawUnlocked = useRef(false);
  const locked = status?.locked ?? null;
  useEffect(() => {
    if (locked === false) sawUnlocked.current = true;
    // Locking drops whatever the screens held (a fetched token, a revealed secret); unlocking starts on the accounts.
    if (locked === true) setRoute({ name: 'accounts' });
  }, [locked]);

  const onUnlocked = useCallback(() => {
    void refreshStatus();
    void accounts.reload();
  }, [refreshStatus, accounts.reload]);
  const lock = useLock(() => void refreshStatus());

  useInput((input, key) => {
    if (key.ctrl && input === 'c') return onQuit();
    // The agent's question comes first: a client is waiting on it, whatever screen is open.
    if (confirm.question) {
      if (input === 'y' || input === 'Y') confirm.answer(true);
      else if (input === 'n' || input === 'N' || key.escape) confirm.answer(false);
      return;
    }
    if (help) {
      if (key.escape || input === '?') setHelp(false);
      else if (input === 'q') onQuit();
      return;
    }
    if (capture) return;
    if (input === 'q') onQuit();
    else if (input === '?') setHelp(true);
    else if (input === 'l' && locked === false) void lock().then((err) => notify(err ? `lock: ${err}` : 'Locked: the agent dropped every decrypted secret.', err ? 'bad' : 'ok'));
    else if (locked !== false) return;
    else if (input === '1') setRoute({ name: 'accounts' });
    else if (input === '2') setRoute({ name: 'audit' });
    else if (input === '3') setRoute({ name: 'secrets' });
    else if (key.tab) setRoute((r) => ({ name: TAB_ORDER[(TAB_ORDER.indexOf(TAB_OF[r.name]) + 1) % TAB_ORDER.length]! }));
  });

  const active = !help && !confirm.question;
  // Rows soft-wrapped lines of the screen add (UrlLine); none while the help or a question hides it.
  const [spills, setSpills] = useState<Record<string, number>>({});
  const spill = active ? Object.values(spills).reduce((a, b) => a + b, 0) : 0;
  // Stable, so a line's effects do not run again each time another line's count changes.
  const reserve = useCallback((id: string, n: number) => setSpills((s) => (s[id] === n ? s : { ...s, [id]: n })), []);
  const release = useCallback(
    (id: string) =>
      setSpills((s) => {
        if (!(id in s)) return s;
        const rest = { ...s };
        delete rest[id];
        return rest;
      }),
    [],
  );
  const spillRows = useMemo<SpillRows>(() => ({ columns, reserve, release, granted: (id) => (active ? (spills[id] ?? 0) : 0) }), [columns, reserve, release, active, spills]);
  const bodyHeight = Math.max(3, rows - CHROME_ROWS - spill);
  const nowS = Math.floor(now() / 1000);
  const toAccounts = () => setRoute({ name: 'accounts' });
  const authorize = (a: AccountInfo) => setRoute({ name: 'add', preset: { service: a.service, account: a.account, scopes: a.scopes } });

  let body: ReactNode;
  let tab: Tab | null = TAB_OF[route.name];
  let crumb: string | undefined;
  if (locked === null) {
    tab = null;
    body = (
      <Box paddingX={2} paddingY={1}>
        <Text color={connection.state === 'disconnected' || statusError ? 'red' : 'gray'}>
          {connection.state === 'disconnected'
            ? 'No agent answers; trying again every second. Start one with: eval "$(sigil-agent)"'
            : (statusError ?? 'Connecting to the agent…')}
        </Text>
      </Box>
    );
  } else if (locked && status?.vault === false) {
    // Nothing to unlock: a passphrase typed here could only fail (as `sigil unlock` now says first).
    tab = null;
    body = (
      <Box flexDirection="column" paddingX={2} paddingY={1}>
        <Text bold color="yellow">
          No vault yet.
        </Text>
        <Text>Create one in a shell with: sigil init</Text>
        <Text color="gray">{terminalText(status.vault_path ?? 'the vault')} does not exist · this screen follows the agent · q quits</Text>
      </Box>
    );
  } else if (locked) {
    tab = null;
    body = <PassphraseScreen active={active} startEditing={!sawUnlocked.current} keyringUnlock={status?.unlock_at_login === true} onUnlocked={onUnlocked} />;
  } else if (route.name === 'audit') {
    body = <AuditScreen active={active} height={bodyHeight} width={columns} onBack={toAccounts} />;
  } else if (route.name === 'secrets') {
    body = (
      <SecretsScreen
        active={active}
        height={bodyHeight}
        width={columns}
        nowS={nowS}
        select={route.select}
        notify={notify}
        onAdd={() => setRoute({ name: 'secret-set' })}
        onReplace={(s) => setRoute({ name: 'secret-set', replace: s })}
        onHistory={(s) => setRoute({ name: 'secret-history', secret: s.name })}
        onBack={toAccounts}
      />
    );
  } else if (route.name === 'secret-set') {
    crumb = route.replace ? `replace ${route.replace.name}` : 'add secret';
    // Back on the list, the cursor is on the secret stored (or the one that was to be replaced).
    const back = route.replace?.name;
    const toList = (select: string | null | undefined) => setRoute(select ? { name: 'secrets', select } : { name: 'secrets' });
    body = <SecretSetScreen replace={route.replace} active={active} notify={notify} onDone={(stored) => toList(stored ?? back)} />;
  } else if (route.name === 'secret-history') {
    crumb = `${route.secret} history`;
    const secret = route.secret;
    body = <SecretHistoryScreen name={secret} active={active} height={bodyHeight} width={columns} notify={notify} onBack={() => setRoute({ name: 'secrets', select: secret })} />;
  } else if (route.name === 'add') {
    crumb = route.preset ? 'authorize again' : 'add account';
    body = (
      <AddAccountScreen
        preset={route.preset}
        active={active}
        height={bodyHeight}
        notify={notify}
        onDone={(changed) => {
          if (changed) void accounts.reload();
          toAccounts();
        }}
      />
    );
  } else {
    const sel = route.name === 'details' ? accounts.accounts?.find((a) => a.service === route.service && a.account === route.account) : undefined;
    if (sel) {
      crumb = `${sel.service}/${sel.account}`;
      body = <DetailsScreen account={sel} active={active} nowS={nowS} reload={accounts.reload} notify={notify} onBack={toAccounts} onAuthorize={authorize} />;
    } else {
      body = (
        <AccountsScreen
          accounts={accounts.accounts}
          error={accounts.error}
          active={active}
          height={bodyHeight}
          width={columns}
          nowS={nowS}
          reload={accounts.reload}
          notify={notify}
          onOpen={(a) => setRoute({ name: 'details', service: a.service, account: a.account })}
          onAdd={() => setRoute({ name: 'add' })}
          onAuthorize={authorize}
        />
      );
    }
  }

  return (
    <KeyCaptureContext.Provider value={setCapture}>
      <SpillContext.Provider value={spillRows}>
        <Box flexDirection="column" width={columns} height={rows}>
          {/* Blank rows for what soft-wrapping adds below: the terminal scrolls them away. */}
          {spill ? <Box height={spill} flexShrink={0} /> : null}
          <TabBar current={tab} crumb={crumb} locked={locked !== false} />
          {/* The help hides the screen without unmounting it: a sign-in in progress goes on.
              Clipped vertically only: lines are cut to the width already, and a horizontal
              clip makes ink re-slice every line of every frame. */}
          {help && !confirm.question ? <HelpOverlay height={bodyHeight} width={columns} /> : null}
          {confirm.question ? (
            <Box height={bodyHeight} flexDirection="column" justifyContent="center" alignItems="center">
              <ConfirmUseBox question={confirm.question} nowMs={now()} width={columns} />
            </Box>
          ) : null}
          <Box flexDirection="column" height={bodyHeight} overflowY="hidden" display={help || confirm.question ? 'none' : 'flex'}>
            {body}
          </Box>
          <NoticeLine notice={notice} width={columns} />
          <StatusBar status={status} connection={connection} width={columns} />
        </Box>
      </SpillContext.Provider>
    </KeyCaptureContext.Provider>
  );
}
