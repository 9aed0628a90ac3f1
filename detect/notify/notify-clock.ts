/** Time as the notifier uses it, injectable so tests decide when back-offs and group windows end. */
import { setTimeout as sleepFor } from 'node:timers/promises';

export interface NotifyClock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Calls `callback` after `ms`; returns the cancel function. */
  setTimer(ms: number, callback: () => void): () => void;
}

/** The real clock. Its timers are unref'd: a pending retry or group window never keeps the process alive. */
export const systemClock: NotifyClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleepFor(ms, undefined, { ref: false, signal }).catch(() => undefined),
  setTimer: (ms, callback) => {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};
