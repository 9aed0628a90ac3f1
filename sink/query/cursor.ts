/**
 * The paging cursor: where a page of flows ended (end time and flow id, the sort key), as an
 * opaque base64url token. OpenSearch continues with `search_after`, the memory store with the
 * same comparison, so no page costs more than its size.
 */
export interface CursorPosition {
  readonly time: number;
  readonly flowId: string;
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.time, position.flowId])).toString('base64url');
}

/** The position of a cursor, or undefined when the text is not one this API gave. */
export function decodeCursor(text: string): CursorPosition | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString());
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [time, flowId] = value as [unknown, unknown];
    if (typeof time !== 'number' || !Number.isSafeInteger(time) || typeof flowId !== 'string' || flowId === '') return undefined;
    return { time, flowId };
  } catch {
    return undefined;
  }
}

/** Sort order of flows: end time, then flow id (code-unit order, as OpenSearch orders keywords). */
export function compareFlowPosition(a: CursorPosition, b: CursorPosition): number {
  if (a.time !== b.time) return a.time - b.time;
  return a.flowId < b.flowId ? -1 : a.flowId > b.flowId ? 1 : 0;
}
