/** Ports the commands receive; hosts and tests supply the implementations. */
export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  debug(message: string): void;
  /** Groups the lines `fn` logs (`::group::` on GitHub, `##[group]` on Azure Pipelines). */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
  /** Progress 0–100, for hosts that draw it (Azure Pipelines). */
  progress?(percent: number, message: string): void;
}

export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
  /** A number in [0, 1) for jitter; injectable so simulations are reproducible. */
  random(): number;
}

export const silentLogger: Logger = {
  info: () => {},
  warning: () => {},
  error: () => {},
  debug: () => {},
  group: (_title, fn) => fn(),
};
