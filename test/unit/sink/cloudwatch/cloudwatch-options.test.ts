import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloudWatchConfigError, resolveCloudWatchOptions } from '../../../../sink/cloudwatch/cloudwatch-options.js';
import { cloudWatchBatchLimits } from '../../../../sink/cloudwatch/log-batches.js';
import { logNamingPresets } from '../../../../sink/cloudwatch/log-names.js';

describe('Sink > CloudWatch > Options', () => {
  it('fills the defaults', () => {
    const resolved = resolveCloudWatchOptions({ cluster: 'prod' });
    assert.deepEqual(
      { ...resolved, random: undefined, sleep: undefined, now: undefined },
      {
        cluster: 'prod',
        naming: logNamingPresets.default,
        retentionDays: 30,
        format: 'calico',
        emf: false,
        limits: cloudWatchBatchLimits,
        concurrency: 4,
        backoff: { baseDelayMs: 200, maxDelayMs: 20_000 },
        readBack: true,
        readBackPages: 3,
        random: undefined,
        sleep: undefined,
        now: undefined,
      },
    );
  });

  it('takes a preset and single templates over it', () => {
    const { naming } = resolveCloudWatchOptions({ cluster: 'prod', naming: 'tigera', names: { alertStream: '{cluster}-alerts' } });
    assert.deepEqual(naming, { ...logNamingPresets.tigera, alertStream: '{cluster}-alerts' });
    assert.equal(resolveCloudWatchOptions({ cluster: 'prod', retentionDays: null }).retentionDays, null);
  });

  it('reports every problem at once', () => {
    assert.throws(
      () =>
        resolveCloudWatchOptions({
          cluster: ' ',
          retentionDays: 10,
          format: 'xml' as never,
          limits: { maxBatchEvents: 20_000, maxBatchBytes: 0 },
          concurrency: 0,
          names: { group: '{node}' },
        }),
      (error: unknown) => {
        assert.ok(error instanceof CloudWatchConfigError);
        assert.equal(error.code, 'CLOUDWATCH_CONFIG');
        assert.deepEqual(
          error.problems.map((problem) => problem.split(':')[0]),
          ['cluster', 'naming.group', 'retentionDays', 'format', 'limits.maxBatchBytes', 'limits.maxBatchEvents', 'concurrency'],
        );
        return true;
      },
    );
  });
});
