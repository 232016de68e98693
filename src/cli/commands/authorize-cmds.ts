import { ErrorCode } from '../../protocol/codes.js';
import { SigilError } from '../../protocol/errors.js';
import { checkAccount, checkService } from '../../protocol/names.js';
import { formatDuration } from '../../util/duration.js';
import type { FlowStart } from '../../protocol/results.js';
import { call, connectAgent } from '../agent.js';
import { browserSupport, openBrowser } from '../open-browser.js';
import { info } from '../output.js';

export interface AuthorizeOpts {
  device?: boolean;
  browser?: boolean;
  scopes?: string;
  open?: boolean;
}

export async function accountsAdd(service: string, account: string, opts: AuthorizeOpts): Promise<void> {
  checkService(service);
  checkAccount(account);
  try {
    await call('get_account', { service, account });
    throw new SigilError(ErrorCode.ALREADY_EXISTS, `account ${service}/${account} already exists; to sign in again run: sigil accounts authorize ${service} ${account}`);
  } catch (err) {
    if (!(err instanceof SigilError) || err.code !== ErrorCode.NOT_FOUND) throw err;
  }
  await authorize(service, account, opts);
}

export async function accountsAuthorize(service: string, account: string, opts: AuthorizeOpts): Promise<void> {
  await call('get_account', { service: checkService(service), account: checkAccount(account) });
  await authorize(service, account, opts);
}

async function authorize(service: string, account: string, opts: AuthorizeOpts): Promise<void> {
  if (opts.device && opts.browser) throw new SigilError(ErrorCode.BAD_REQUEST, '--device and --browser exclude each other');
  const chosen = opts.device ? 'device' : opts.browser ? 'auth_code' : null;
  // Over SSH or on a console a browser cannot come back to this machine's loopback: prefer the device flow.
  const preferred = chosen ?? browserSupport().preferred;
  const scopes = opts.scopes ? opts.scopes.split(/[\s,]+/).filter(Boolean) : undefined;

  const client = await connectAgent();
  let flowId: string | null = null;
  const onSignal = () => {
    if (flowId) client.call('cancel_flow', { flow_id: flowId }).catch(() => {}).finally(() => process.exit(130));
    else process.exit(130);
  };
  process.once('SIGINT', onSignal);
  try {
    let flow: FlowStart;
    try {
      flow = await client.call('start_flow', { service, account, kind: preferred, ...(scopes ? { scopes } : {}) });
    } catch (err) {
      // The provider lacks the flow we guessed (the agent names `kind`): try the other one, unless the person chose.
      if (chosen || !(err instanceof SigilError) || err.code !== ErrorCode.BAD_REQUEST || err.details.field !== 'kind') throw err;
      flow = await client.call('start_flow', { service, account, kind: preferred === 'device' ? 'auth_code' : 'device', ...(scopes ? { scopes } : {}) });
    }
    flowId = flow.flow_id;
    if (flow.notice) info(`Note: ${flow.notice}`);
    if (flow.kind === 'auth_code') {
      const opened = opts.open !== false && (await openBrowser(flow.authorization_url!));
      info(opened ? `Opened your browser to sign in to ${service}. If it did not open, visit:` : `Sign in to ${service} by visiting:`);
      info(`\n  ${flow.authorization_url}\n`);
    } else {
      info(`To sign in to ${service}, visit ${flow.verification_uri} and enter the code:\n`);
      info(`    ${flow.user_code}\n`);
      if (flow.verification_uri_complete) info(`(or open ${flow.verification_uri_complete})`);
      if (flow.expires_in) info(`The code expires in ${formatDuration(flow.expires_in)}.`);
    }
    info('Waiting for the sign-in to complete (Ctrl-C to cancel)…');
    const done = await client.call('wait_flow', { flow_id: flow.flow_id }, { timeoutMs: 0 });
    const scopeText = done.scopes.length ? ` with scopes ${done.scopes.join(' ')}` : '';
    info(`Authorized ${service}/${account}${scopeText}. Use it with: sigil-token ${service} ${account}`);
  } finally {
    process.off('SIGINT', onSignal);
    client.close();
  }
}
