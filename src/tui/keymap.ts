/** Every key of the TUI, by screen: the help overlay prints this, so it cannot drift from it. */
export interface KeySection {
  title: string;
  keys: [string, string][];
}

// Short lines: the overlay fits two columns of these in an 80×24 terminal.
export const KEYMAP: KeySection[] = [
  {
    title: 'Everywhere',
    keys: [
      ['1 2 3 Tab', 'accounts, audit, secrets; next'],
      ['l', 'lock the agent now'],
      ['? Esc', 'this help; close / go back'],
      ['q Ctrl-C', 'quit (Ctrl-C even in a field)'],
      ['y n', "answer the agent's question"],
    ],
  },
  {
    title: 'Passphrase',
    keys: [
      ['Enter', 'unlock / start typing'],
      ['Esc', 'stop typing (q quits)'],
      ['k', 'unlock from the OS keyring'],
    ],
  },
  {
    title: 'Accounts',
    keys: [
      ['↑↓ k j', 'move'],
      ['PgUp PgDn g G', 'page, first, last'],
      ['Enter', 'details'],
      ['a', 'add an account'],
      ['r', 'refresh token now'],
      ['A u', 'authorize again'],
      ['d', 'remove (asks y/n)'],
    ],
  },
  {
    title: 'Details',
    keys: [
      ['t', 'fetch token (masked)'],
      ['v', 'reveal / hide token'],
      ['r A u d', 'as in accounts'],
    ],
  },
  {
    title: 'Add account',
    keys: [
      ['↑↓ Enter', 'pick, next step'],
      ['Esc', 'back; cancels a sign-in'],
      ['c', 'copy the sign-in URL (OSC 52)'],
    ],
  },
  {
    title: 'Audit log',
    keys: [
      ['↑↓ k j', 'scroll'],
      ['PgUp PgDn', 'page (reads older)'],
      ['g G', 'oldest / newest+follow'],
      ['f', 'follow on / off'],
      ['/', 'filter svc/acct/op/result'],
    ],
  },
  {
    title: 'Secrets',
    keys: [
      ['↑↓ k j g G', 'move'],
      ['v', 'reveal / hide (audited)'],
      ['a e d', 'add, replace, delete (y/n)'],
      ['Enter h', 'history; Enter rolls back'],
    ],
  },
];
