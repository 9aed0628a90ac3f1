/**
 * The cluster the query benches store flows of: 10 namespaces × 10 deployments × 4 pods (two
 * ReplicaSets each), and 1,000 public addresses; plus the time span, the percentile and the timing
 * loop they share.
 */
import { deploymentPod, publicAddress, type FlowEndSpec } from '../../test/support/enriched-flows.js';

export const START = Date.UTC(2026, 10, 26, 0, 0, 0);
export const SPAN = 48 * 3_600_000;
export const WINDOW = 15 * 60_000;

export const percentile = (values: readonly number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))]!;

export function cluster(): { pods: FlowEndSpec[]; internet: FlowEndSpec[] } {
  const pods: FlowEndSpec[] = [];
  for (let n = 0; n < 10; n++) {
    for (let d = 0; d < 10; d++) {
      for (let p = 0; p < 4; p++) {
        const hash = p < 2 ? `5c8d7f9b${d}` : `6f7b9c8d${d}`;
        pods.push(deploymentPod(`team-${n}`, `svc-${d}`, `10.${64 + n}.${d}.${10 + p}`, `p${p}x${n}`, hash));
      }
    }
  }
  const internet = Array.from({ length: 1_000 }, (_, i) => publicAddress(`198.${18 + (i % 2)}.${Math.floor(i / 250)}.${i % 250}`));
  return { pods, internet };
}

/** Each run's duration in milliseconds, after `warmups` runs that are not counted (given `samples + i`). */
export async function timed(samples: number, warmups: number, run: (i: number) => unknown): Promise<number[]> {
  for (let i = 0; i < warmups; i++) await run(samples + i);
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    await run(i);
    times.push(performance.now() - start);
  }
  return times;
}
