import { stringArg } from '../../protocol/messages.js';
import type { OpHandlers } from '../op-table.js';

/** Sync and devices: the sync service (src/agent/sync) does the work; these read the arguments. */
export const syncOps = {
  sync_init: {
    run({ state }, args) {
      return state.sync.init(stringArg(args, 'remote'), stringArg(args, 'name', { optional: true }));
    },
  },
  sync: {
    run({ state }) {
      return state.sync.sync();
    },
  },
  list_devices: {
    async run({ state }) {
      const [info, devices] = await Promise.all([state.sync.info(), state.sync.enabled ? state.sync.devices() : []]);
      return { ...info, devices };
    },
  },
  add_device: {
    run({ state }, args) {
      return state.sync.addDevice(stringArg(args, 'name'), stringArg(args, 'recipient'));
    },
  },
  remove_device: {
    run({ state }, args) {
      return state.sync.removeDevice(stringArg(args, 'name'));
    },
  },
} satisfies OpHandlers;
