import { MemoryFlowStore } from '../../../../sink/query/memory-flow-store.js';
import { flowStoreContract } from '../../../support/query-contract.js';

flowStoreContract({ name: 'MemoryFlowStore', create: async (flows) => new MemoryFlowStore(flows) });
