/** Wakes everything that waits on it; a wait started after `notify` waits for the next one. */
export class Signal {
  private waiters: Array<() => void> = [];

  wait(): Promise<void> {
    return new Promise((resolveWait) => this.waiters.push(resolveWait));
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export const delay = (ms: number) => new Promise<void>((resolveTimer) => setTimeout(resolveTimer, ms));
