import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConntrackCollector } from '../../../ingest/conntrack-collector.js';
import { parseConntrackLine } from '../../../ingest/conntrack-parse.js';
import { codecFor } from '../../../schemas/codec.js';

const line = (src: string, dst: string, sport: number, bytes: [number, number], extra = '') =>
  parseConntrackLine(
    `ipv4     2 tcp      6 100 ESTABLISHED src=${src} dst=${dst} sport=${sport} dport=443 packets=${Math.ceil(bytes[0] / 100)} bytes=${bytes[0]} src=${dst} dst=${src} sport=443 dport=${sport} packets=${Math.ceil(bytes[1] / 100)} bytes=${bytes[1]} [ASSURED] mark=0 use=1 id=${sport}${extra}`,
  );

describe('Ingest > conntrack > collector', () => {
  const options = { host: 'node-a', local: ['10.244.1.0/24'], intervalStart: 0, firstPollIsBaseline: false } as const;

  it('turns a poll into records seen from each local end, with in and out swapped for dst', () => {
    const collector = new ConntrackCollector(options);
    collector.poll([line('10.244.1.5', '10.244.1.6', 40000, [1000, 300]), line('10.244.1.5', '93.184.216.34', 40001, [500, 9000]), line('8.8.8.8', '9.9.9.9', 1, [1, 1])]);
    const records = collector.flush(10_000);
    assert.deepEqual(
      records.map((r) => [r.reporter, r.dest_ip, r.bytes_out, r.bytes_in, r.packets_out, r.packets_in, r.num_flows_started]),
      [
        ['src', '10.244.1.6', 1000, 300, 10, 3, 1],
        ['dst', '10.244.1.6', 300, 1000, 3, 10, 1],
        ['src', '93.184.216.34', 500, 9000, 5, 90, 1],
      ],
    );
    assert.equal(collector.stats().notLocal, 1);
    const codec = codecFor('RawFlow');
    for (const record of records) codec.encode(record);
  });

  it('names the pod that answered after DNAT, not the service address', () => {
    const collector = new ConntrackCollector(options);
    collector.poll([
      parseConntrackLine(
        'ipv4     2 tcp      6 114 TIME_WAIT src=10.244.1.1 dst=10.96.0.10 sport=52444 dport=80 packets=6 bytes=1320 src=10.244.1.2 dst=10.244.1.1 sport=8080 dport=52444 packets=4 bytes=219 [ASSURED] mark=0 use=1 id=1289613483',
      ),
    ]);
    const [src] = collector.flush(1);
    assert.deepEqual([src!.dest_ip, src!.dest_port, src!.num_flows_completed], ['10.244.1.2', 8080, 1]);
  });

  it('counts a connection once per interval even when a poll and its DESTROY both contribute', () => {
    const collector = new ConntrackCollector({ ...options, level: 'tuple', local: ['10.244.1.5'] });
    collector.poll([line('10.244.1.5', '1.1.1.1', 40000, [100, 100])]);
    collector.flush(10);
    collector.poll([line('10.244.1.5', '1.1.1.1', 40000, [200, 100])]);
    collector.destroyed(parseConntrackLine(`[1.0]\t[DESTROY] ${'ipv4 2 tcp 6 TIME_WAIT src=10.244.1.5 dst=1.1.1.1 sport=40000 dport=443 packets=3 bytes=300 src=1.1.1.1 dst=10.244.1.5 sport=443 dport=40000 packets=1 bytes=100 id=40000'}`));
    const [r] = collector.flush(20);
    assert.deepEqual([r!.bytes_out, r!.num_flows, r!.num_flows_started, r!.num_flows_completed], [200, 1, 0, 1]);
  });

  it('turns deny-set growth into deny records and counts what the set did not attribute', () => {
    const collector = new ConntrackCollector({ ...options, firstPollIsBaseline: true });
    const denied = (packets: number) => [{ src: '10.244.1.5', dst: '10.9.9.9', proto: 6, dport: 22, packets, bytes: packets * 60 }];
    collector.denied(denied(1), 1);
    collector.denied(denied(4), 10);
    const [r] = collector.flush(5);
    assert.deepEqual(
      [r!.action, r!.reporter, r!.source_port, r!.dest_port, r!.packets_out, r!.bytes_out, r!.num_flows],
      ['deny', 'src', null, 22, 3, 180, 1],
    );
    assert.equal(collector.stats().denyUnattributedPackets, 6);
  });
});
