/** The contract between a notification and one kind of endpoint: the message it is sent as. */
import type { Notification } from './notification.js';

export interface PreparedMessage {
  /** The message id: the same on every attempt (webhook-id for signed webhooks). */
  readonly id: string;
  /** The request body, built once so every attempt sends the same bytes. */
  readonly body: string;
  /** The headers of one attempt sent at `sentAt` (epoch ms); signed formats sign here, afresh each time. */
  headers(sentAt: number): Record<string, string>;
}

/** A notification as this endpoint's message; null when the endpoint has nothing to say about it. */
export type EndpointFormat = (notification: Notification) => PreparedMessage | null;

export const JSON_CONTENT_TYPE = 'application/json';
