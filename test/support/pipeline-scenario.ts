/**
 * The stars scenario (`stars-scenario.ts`) moved in time for a run of the whole pipeline, and cut
 * into the files a VPC Flow Log delivery would bring one after the other.
 *
 * The scenario is recorded at a fixed date; CloudWatch Logs refuses events older than 14 days, so
 * a run moves every flow and every inventory event by the same whole number of minutes (windows
 * stay aligned to the epoch), so that the scenario ends a little before the run: a backlog of
 * flow-log files, delivered one after the other.
 */
import { T0, starsScenario, type Scenario } from './stars-scenario.js';

const minute = 60_000;

export interface MovedScenario extends Scenario {
  /** The scenario's first minute after the move. */
  readonly t0: number;
  /** How far everything moved, milliseconds. */
  readonly shiftMs: number;
  /** The VPC Flow Log lines cut by event time: the flows of minutes [from, to) of each part. */
  readonly parts: readonly { readonly from: number; readonly to: number; readonly lines: readonly string[] }[];
}

/** A default-format VPC record moved by `seconds`: its start and end (fields 11 and 12). */
export function moveVpcLine(line: string, seconds: number): string {
  const fields = line.split(' ');
  if (fields.length !== 14) throw new Error(`not a default-format VPC Flow Log record: ${line}`);
  fields[10] = String(Number(fields[10]) + seconds);
  fields[11] = String(Number(fields[11]) + seconds);
  return fields.join(' ');
}

/** A recorded watch event (`{"ts", "type", "object"}`) moved by `ms`. */
export function moveWatchLine(line: string, ms: number): string {
  const event = JSON.parse(line) as { ts: string; type: string; object: unknown };
  return JSON.stringify({ ...event, ts: new Date(Date.parse(event.ts) + ms).toISOString() });
}

/** The start time of a VPC record, epoch milliseconds. */
export const vpcStart = (line: string): number => Number(line.split(' ')[10]) * 1000;

/** The end time of a VPC record, epoch milliseconds. */
export const vpcEnd = (line: string): number => Number(line.split(' ')[11]) * 1000;

/**
 * The stars scenario moved by whole minutes so that its last flow ends at `lastFlowEndsBy` or up to
 * a minute before, its flows cut at the given minutes of the scenario (e.g. [10, 20] gives three parts).
 */
export function movedStarsScenario(lastFlowEndsBy: number, cuts: readonly number[]): MovedScenario {
  const scenario = starsScenario();
  const minutes = scenario.learnMinutes + 15;
  const lastEnd = Math.max(...scenario.flows.map(vpcEnd));
  const shiftMs = Math.floor((lastFlowEndsBy - lastEnd) / minute) * minute;
  const t0 = T0 + shiftMs;
  const flows = scenario.flows.map((line) => moveVpcLine(line, shiftMs / 1000));
  const bounds = [0, ...cuts, minutes];
  const parts = bounds.slice(0, -1).map((from, index) => {
    const to = bounds[index + 1]!;
    return { from, to, lines: flows.filter((line) => vpcStart(line) >= t0 + from * minute && vpcStart(line) < t0 + to * minute) };
  });
  const counted = parts.reduce((sum, part) => sum + part.lines.length, 0);
  if (counted !== flows.length) throw new Error(`the cuts ${cuts.join(', ')} lose flows: ${counted} of ${flows.length}`);
  return {
    inventory: scenario.inventory.map((line) => moveWatchLine(line, shiftMs)),
    flows,
    learnMinutes: scenario.learnMinutes,
    attackAt: scenario.attackAt + shiftMs,
    t0,
    shiftMs,
    parts,
  };
}
