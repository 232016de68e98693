/**
 * The package's entry for other Node programs (`import { connect } from 'sigilforge'`): the
 * client, its error model and the protocol's types. Only what is exported here is public;
 * scripts/build.mjs emits the declarations for this file and what it reaches.
 */
export { connect, SigilClient, type ConnectOptions, type MethodName, type OpMethods } from './client/package-client.js';
export type { CallRest, RequestOptions } from './client/agent-client.js';
export { ErrorCode, EXIT_CODES } from './protocol/codes.js';
export { SigilError, type ErrorDetails } from './protocol/errors.js';
export { OPS, type Op, type OpAnswer, type OpArgs, type OpSignatures } from './protocol/op-catalog.js';
export type * from './protocol/results.js';
