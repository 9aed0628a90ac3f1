import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addDistinct, countDistinct, exactBound, newDistinct } from '../../../detect/distinct-counter.js';
import { decodeUnit, encodeUnit } from '../../../detect/detector-state.js';
import type { FeedMatcher } from '../../../detect/detectors/ioc-detector.js';
import { deploymentPod, enrichedFlow, publicAddress } from '../../support/enriched-flows.js';
import { detect, detectWithRestarts, minute, opened, T0, testOptions } from './support.js';

/** A feed of one /24, matched by prefix (the real index is tested with the feeds). */
const blocklist: FeedMatcher = {
  match: (ip) => (ip.startsWith('203.0.113.') ? { feed: 'blocklist', entry: '203.0.113.0/24', note: 'c2 servers' } : undefined),
};

const ui = deploymentPod('management-ui', 'management-ui', '10.0.4.10');
const web = deploymentPod('shop', 'web', '10.0.5.10');

describe('Detect > ioc', () => {
  it('a pod calling a listed address is a high alert on that pod, naming the feed and the entry; from the first flow (no learning)', () => {
    const flows = [0, 1, 2].map((index) => enrichedFlow(ui, publicAddress('203.0.113.66'), { at: T0 + 10_000 + index * 1_000, port: 443 }));
    const { alerts } = detect(flows, testOptions, blocklist);
    assert.equal(alerts.length, 1);
    const [alert] = alerts;
    assert.equal(alert?.detector, 'ioc');
    assert.equal(alert?.severity, 'high');
    assert.equal(alert?.feed, 'blocklist');
    assert.equal(alert?.indicator, '203.0.113.0/24');
    assert.equal(alert?.source_name, ui.name);
    assert.equal(alert?.dest_ip, '203.0.113.66');
    assert.equal(alert?.evidence?.matched_end, 'dest');
    assert.equal(alert?.evidence?.note, 'c2 servers');
    assert.equal(alert?.technique, 'T1071');
  });

  it('a listed address connecting in names the workload it reached; a denied attempt is medium', () => {
    const inbound = enrichedFlow(publicAddress('203.0.113.9'), web, { at: T0 + 5_000, port: 8080, reporter: 'dst', action: 'deny' });
    const { alerts } = detect([inbound], testOptions, blocklist);
    assert.equal(alerts[0]?.severity, 'medium');
    assert.equal(alerts[0]?.evidence?.matched_end, 'source');
    assert.equal(alerts[0]?.evidence?.subject_end, 'dest');
    assert.match(alerts[0]?.summary ?? '', /^203\.0\.113\.9 connected to shop\/web-7d9f8c6b5-x1 port 8080 \(denied\), listed by blocklist/);
  });

  it('one alert per pod and entry, resolved when the calls stop; a megabyte out makes it critical', () => {
    const calls = [0, 1, 2, 3].map((index) => enrichedFlow(ui, publicAddress('203.0.113.66'), { at: T0 + index * 10_000, port: 443, bytesOut: 400_000 }));
    const later = enrichedFlow(web, publicAddress('198.51.100.1'), { at: T0 + 10 * minute, port: 443 });
    const { alerts } = detect([...calls, later], testOptions, blocklist);
    assert.deepEqual(
      alerts.map((alert) => [alert.revision, alert.status, alert.severity]),
      [
        [0, 'open', 'high'],
        [1, 'open', 'critical'],
        [2, 'resolved', 'critical'],
      ],
    );
  });

  it('without feeds nothing matches, and a restart keeps the open alert', () => {
    const calls = Array.from({ length: 30 }, (_, index) => enrichedFlow(ui, publicAddress('203.0.113.66'), { at: T0 + index * 1_000, port: 443, bytesOut: 10 }));
    assert.deepEqual(detect(calls).alerts, []);
    const whole = detect(calls, testOptions, blocklist).alerts;
    assert.equal(opened(whole).length, 1);
    assert.deepEqual(detectWithRestarts(calls, [10, 20], testOptions, blocklist), whole);
  });
});

describe('Detect > distinct counting', () => {
  it('is exact up to the bound, then estimates within a few percent', () => {
    const state = newDistinct();
    for (let port = 0; port < exactBound; port++) addDistinct(state, port);
    addDistinct(state, 5);
    assert.equal(countDistinct(state), exactBound);
    for (let n = exactBound; n < 20_000; n++) addDistinct(state, `10.${n >> 16}.${(n >> 8) & 255}.${n & 255}`);
    assert.equal(state.members, null);
    const estimate = countDistinct(state);
    assert.ok(Math.abs(estimate - 20_000) / 20_000 < 0.08, `estimate ${estimate}`);
    // The sketch survives the changelog's JSON form.
    const restored = decodeUnit(encodeUnit(state)) as typeof state;
    assert.equal(countDistinct(restored), estimate);
    assert.equal(state.sketch?.registers.length, 512, 'memory stays at 512 bytes of registers');
  });
});
