/**
 * Time and timers for the agent's parts whose behaviour depends on time (the boot-event reporter's
 * flush interval, the inventory's refresh interval and miss-refresh rate limit). Production uses
 * `realClock`; a test passes a clock it moves itself, so it controls time instead of sleeping.
 */
export type TimerHandle = object;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `fn` once after `ms`; never keeps the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Runs `fn` every `ms`; never keeps the process alive. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer from either (nothing happens for undefined or one that already ran). */
  clear(timer: TimerHandle | undefined): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  // clearTimeout and clearInterval are interchangeable in Node.
  clear: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};
