import { MemoryStore } from '../../src/stores/memory-store.js';
import { describeSecretStoreContract } from './store-contract.js';

describeSecretStoreContract('MemoryStore', async () => ({ store: new MemoryStore() }));
