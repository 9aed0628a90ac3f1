/**
 * Where a replay's records go besides its JSON-lines files: a Calico flow-log file (the lines the
 * CloudWatch Logs outlet would write) and the real outlets (OpenSearch, CloudWatch Logs). Each
 * run of records is written to every outlet before the replay reads on (backpressure); a record
 * an outlet refuses is kept as a DeadLetter JSON line with the outlet's reason.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { toJson } from '../schemas/json.js';
import type { Alert, EnrichedFlow } from '../schemas/types.js';
import { formatFlowLine } from './cloudwatch/flow-lines.js';
import type { Outlet, SinkItem } from './outlet.js';
import { rejectionDeadLetter } from './sink-worker.js';

export interface ReplayOutputsOptions {
  readonly outlets: readonly Outlet[];
  /** Flows as Calico text lines. */
  readonly calicoOut?: string;
  /** Records an outlet refused, as DeadLetter JSON lines. */
  readonly rejectedOut: string;
  readonly now?: () => number;
}

async function write(stream: WriteStream, text: string): Promise<void> {
  if (text.length > 0 && !stream.write(text)) await once(stream, 'drain');
}

async function end(stream: WriteStream | undefined): Promise<void> {
  if (!stream) return;
  await new Promise<void>((resolveEnd, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolveEnd())));
}

export class ReplayOutputs {
  private readonly calico: WriteStream | undefined;
  private rejected: WriteStream | undefined;
  /** Records written, and refused, by outlet. */
  readonly written = new Map<string, number>();
  readonly refused = new Map<string, number>();

  constructor(private readonly options: ReplayOutputsOptions) {
    this.calico = options.calicoOut ? createWriteStream(options.calicoOut) : undefined;
  }

  async flows(records: readonly EnrichedFlow[]): Promise<void> {
    if (this.calico) await write(this.calico, records.map((record) => `${formatFlowLine(record, 'calico')}\n`).join(''));
    await this.toOutlets(records.map((record) => ({ record: { kind: 'flow', record } })));
  }

  async alerts(alerts: readonly Alert[]): Promise<void> {
    await this.toOutlets(alerts.map((record) => ({ record: { kind: 'alert', record } })));
  }

  /** `opensearch 1200 written, 1 refused; ...`, or '' without outlets. */
  summary(): string {
    return this.options.outlets.map((outlet) => `${outlet.name} ${this.written.get(outlet.name) ?? 0} written, ${this.refused.get(outlet.name) ?? 0} refused`).join('; ');
  }

  async close(): Promise<void> {
    await end(this.calico);
    await end(this.rejected);
    await Promise.all(this.options.outlets.map((outlet) => outlet.close()));
  }

  private async toOutlets(items: readonly SinkItem[]): Promise<void> {
    if (items.length === 0) return;
    const now = this.options.now ?? Date.now;
    for (const outlet of this.options.outlets) {
      const rejections = await outlet.write(items);
      this.written.set(outlet.name, (this.written.get(outlet.name) ?? 0) + items.length - rejections.length);
      this.refused.set(outlet.name, (this.refused.get(outlet.name) ?? 0) + rejections.length);
      for (const rejection of rejections) {
        const letter = rejectionDeadLetter(outlet.name, rejection, now());
        this.rejected ??= createWriteStream(this.options.rejectedOut);
        await write(this.rejected, `${JSON.stringify(toJson('DeadLetter', letter))}\n`);
      }
    }
  }
}
