/**
 * Long work cut into slices: a step function yields between slices. `runToEnd` runs it at once;
 * `runInSlices` lets other callbacks (flows being matched) run between slices, so a big feed is
 * parsed and indexed without holding the event loop for the whole of it.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

export type Steps<T> = Generator<void, T, void>;

export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

export async function runInSlices<T>(steps: Steps<T>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await nextTurn();
  }
}
