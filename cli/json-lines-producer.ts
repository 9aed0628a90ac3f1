import type { Writable } from 'node:stream';
import type { BusProducer, OutgoingMessage } from '../runtime/bus/bus.js';
import { decodeMessage } from '../schemas/codec.js';
import { toJson } from '../schemas/json.js';

/**
 * An outlet for `--bus stdout`: every record of every message as one JSON line
 * (`{"topic": ..., "key": ..., "record": ...}`), for a look at what a stage emits, or for replay files.
 */
export class JsonLinesProducer implements BusProducer {
  constructor(private readonly out: Writable) {}

  async send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    const lines: string[] = [];
    for (const message of messages) {
      const decoded = decodeMessage(message.value);
      for (const record of decoded.records) {
        lines.push(JSON.stringify({ topic, key: message.key, type: decoded.name, record: toJson(decoded.name, record as never) }));
      }
    }
    if (lines.length === 0) return;
    const text = `${lines.join('\n')}\n`;
    if (!this.out.write(text)) await new Promise<void>((resolveDrain) => this.out.once('drain', resolveDrain));
  }

  async close(): Promise<void> {}
}
