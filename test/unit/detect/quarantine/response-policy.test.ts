import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResponsePolicyError } from '../../../../detect/quarantine/quarantine-errors.js';
import { parseResponsePolicy, parseTtl, ruleFor } from '../../../../detect/quarantine/response-policy.js';
import { alertOf } from './support.js';

const example = `
rules:
  - name: scanners
    match: { detectors: [port_scan, ip_sweep], minSeverity: high }
    backend: calico
    ttl: 2h
  - name: lateral
    match: { techniques: [T1021], minSeverity: critical }
    backend: networkpolicy
    ttl: 30m
    dryRun: true
  - name: everything-else-as-a-plan
    backend: adminnetworkpolicy
    dryRun: true
`;

function problemsOf(text: string): readonly string[] {
  try {
    parseResponsePolicy(text, 'policy.yaml');
  } catch (error) {
    assert.ok(error instanceof ResponsePolicyError);
    assert.equal(error.code, 'QUARANTINE_BAD_POLICY');
    return error.problems;
  }
  assert.fail('expected a ResponsePolicyError');
}

describe('Detect > quarantine > response policy', () => {
  it('reads rules with their defaults', () => {
    const policy = parseResponsePolicy(example, 'policy.yaml');
    assert.deepEqual(policy.rules, [
      { name: 'scanners', match: { detectors: ['port_scan', 'ip_sweep'], minSeverity: 'high' }, backend: 'calico', ttlMs: 7_200_000, dryRun: false },
      { name: 'lateral', match: { techniques: ['T1021'], minSeverity: 'critical' }, backend: 'networkpolicy', ttlMs: 1_800_000, dryRun: true },
      { name: 'everything-else-as-a-plan', match: {}, backend: 'adminnetworkpolicy', ttlMs: 3_600_000, dryRun: true },
    ]);
  });

  it('is empty, quarantining nothing, when the text is empty or has no rules', () => {
    assert.deepEqual(parseResponsePolicy('', 'empty.yaml'), { rules: [] });
    assert.deepEqual(parseResponsePolicy('rules: []', 'none.yaml'), { rules: [] });
    assert.equal(ruleFor(parseResponsePolicy('', 'empty.yaml'), alertOf({ severity: 'critical' })), undefined);
  });

  it('reports every problem at once, with its path', () => {
    const text = `
rules:
  - name: a
    match: { detectors: [], minSeverity: urgent, techniques: [lateral] }
    backend: cilium
    ttl: forever
  - match: { colour: red }
    backend: calico
    dryRun: "yes"
  - name: a
    backend: networkpolicy
    ttl: 30d
  - just a string
extra: 1
`;
    assert.deepEqual(problemsOf(text), [
      'policy.yaml: policy.extra: unknown key (known: rules)',
      'policy.yaml: policy.rules[0].match.detectors: expected a non-empty list',
      "policy.yaml: policy.rules[0].match.techniques[0]: 'lateral' is not an ATT&CK technique id (T1046, T1021.002)",
      'policy.yaml: policy.rules[0].match.minSeverity: expected one of info, low, medium, high, critical, got "urgent"',
      'policy.yaml: policy.rules[0].backend: expected one of calico, adminnetworkpolicy, networkpolicy, got "cilium"',
      'policy.yaml: policy.rules[0].ttl: expected a duration such as 90s, 30m, 1h or 2d, got "forever"',
      'policy.yaml: policy.rules[1].name: missing',
      'policy.yaml: policy.rules[1].match.colour: unknown key (known: detectors, minSeverity, techniques)',
      'policy.yaml: policy.rules[1].dryRun: expected true or false, got "yes"',
      'policy.yaml: policy.rules[2].ttl: at most 7d, got "30d"',
      'policy.yaml: policy.rules[3]: expected an object',
    ]);
  });

  it('names duplicate rules, and a YAML syntax error with its line', () => {
    assert.deepEqual(problemsOf('rules:\n  - { name: a, backend: calico }\n  - { name: a, backend: calico }\n'), ["policy.yaml: policy.rules: more than one rule named 'a'"]);
    const [syntax, ...more] = problemsOf('rules:\n  - name: a\n   backend: calico\n');
    assert.equal(more.length, 0);
    assert.match(syntax!, /^policy\.yaml: .*line 3/);
    assert.deepEqual(problemsOf('- a\n- b\n'), ['policy.yaml: policy: expected an object with rules']);
  });

  it('reads TTLs in seconds, minutes, hours and days', () => {
    assert.equal(parseTtl('90s'), 90_000);
    assert.equal(parseTtl('30m'), 1_800_000);
    assert.equal(parseTtl('1h'), 3_600_000);
    assert.equal(parseTtl('2d'), 172_800_000);
    assert.equal(parseTtl('1.5h'), undefined);
    assert.equal(parseTtl('10'), undefined);
  });

  describe('matching', () => {
    const policy = parseResponsePolicy(example, 'policy.yaml');

    it('takes the first rule whose every condition holds', () => {
      assert.equal(ruleFor(policy, alertOf({ detector: 'port_scan', severity: 'high' }))?.name, 'scanners');
      assert.equal(ruleFor(policy, alertOf({ detector: 'port_scan', severity: 'medium' }))?.name, 'everything-else-as-a-plan');
      assert.equal(ruleFor(policy, alertOf({ detector: 'lateral_movement', severity: 'critical', technique: 'T1021' }))?.name, 'lateral');
    });

    it('takes a technique as matching its sub-techniques, and not a longer number', () => {
      const lateralOnly = parseResponsePolicy('rules: [{ name: l, match: { techniques: [T1021] }, backend: calico }]', 'p.yaml');
      assert.equal(ruleFor(lateralOnly, alertOf({ technique: 'T1021.002' }))?.name, 'l');
      assert.equal(ruleFor(lateralOnly, alertOf({ technique: 'T10210' })), undefined);
      assert.equal(ruleFor(lateralOnly, alertOf({ technique: null })), undefined);
    });

    it('orders severities from info to critical', () => {
      const high = parseResponsePolicy('rules: [{ name: h, match: { minSeverity: high }, backend: calico }]', 'p.yaml');
      assert.deepEqual(
        (['info', 'low', 'medium', 'high', 'critical'] as const).map((severity) => ruleFor(high, alertOf({ severity })) !== undefined),
        [false, false, false, true, true],
      );
    });
  });
});
