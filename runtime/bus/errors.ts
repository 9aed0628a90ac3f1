/** Errors of the bus, with a code, the topic they concern and whether a retry may help. */
export class BusError extends Error {
  override readonly name: string = 'BusError';
  constructor(
    readonly code: 'BUS_CLOSED' | 'UNKNOWN_TOPIC' | 'SEND_FAILED' | 'CHECKPOINT_FAILED' | 'INVALID_ARGUMENT',
    message: string,
    readonly retriable: boolean,
    readonly topic?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const closedError = (what: string) => new BusError('BUS_CLOSED', `${what} is closed`, false);
export const unknownTopicError = (topic: string) =>
  new BusError('UNKNOWN_TOPIC', `topic '${topic}' does not exist`, false, topic);
