import { noEndpointIdentity, noFlowExtras } from '../../schemas/defaults.js';
import type { RawFlow } from '../../schemas/types.js';

/** An address-only flow, as conntrack or VPC flow logs report it: one connection, 10 s, allowed. */
export function addressOnlyFlow(fields: Pick<RawFlow, 'start_time' | 'source_ip' | 'dest_ip' | 'dest_port'> & Partial<RawFlow>): RawFlow {
  return {
    end_time: fields.start_time + 10_000,
    origin: 'conntrack',
    host: 'node-a',
    source_port: 40000,
    ...noEndpointIdentity,
    proto: 6,
    reporter: 'src',
    action: 'allow',
    policies: [],
    bytes_in: 100,
    bytes_out: 200,
    packets_in: 1,
    packets_out: 2,
    num_flows: 1,
    num_flows_started: 1,
    num_flows_completed: 1,
    ...noFlowExtras,
    ...fields,
  };
}
