import type { Clock } from '../core/ports.js';

/** Real time: the clock of every run; tests and simulations pass their own. */
export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};
