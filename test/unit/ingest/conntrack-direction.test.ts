import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalEndpoints, reportersOf } from '../../../ingest/conntrack-direction.js';

describe('Ingest > conntrack > direction', () => {
  const local = LocalEndpoints.of(['10.244.1.0/26', '192.168.0.10', 'fd00:10:244:1::/64']);

  it('knows addresses and CIDR blocks of both families', () => {
    assert.equal(local.has('10.244.1.5'), true);
    assert.equal(local.has('10.244.1.64'), false, 'outside the /26');
    assert.equal(local.has('192.168.0.10'), true);
    assert.equal(local.has('192.168.0.11'), false);
    assert.equal(local.has('fd00:10:244:1::42'), true);
    assert.equal(local.has('fd00:10:244:2::42'), false);
    assert.equal(local.has('not-an-ip'), false);
    assert.equal(LocalEndpoints.of(['FD00:0::1']).has('fd00::1'), true, 'an IPv6 address written another way');
  });

  it('reports src when the originator is local, dst when the responder is, both when both are', () => {
    assert.deepEqual(reportersOf(local, '10.244.1.5', '8.8.8.8'), ['src']);
    assert.deepEqual(reportersOf(local, '8.8.8.8', '10.244.1.5'), ['dst']);
    assert.deepEqual(reportersOf(local, '10.244.1.5', '10.244.1.6'), ['src', 'dst']);
    assert.deepEqual(reportersOf(local, '10.244.1.5', '10.244.1.6', 'src'), ['src']);
    assert.deepEqual(reportersOf(local, '8.8.8.8', '1.1.1.1'), []);
  });

  it('rejects an entry that is neither an address nor a block', () => {
    assert.throws(() => LocalEndpoints.of(['10.0.0.0/33']), /bad prefix length/);
    assert.throws(() => LocalEndpoints.of(['pods']), /not an IP address/);
  });
});
