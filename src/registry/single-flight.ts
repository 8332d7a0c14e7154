/**
 * `start()`'s promise for `key`, shared by every caller while it runs and once it has succeeded
 * (one request for concurrent callers); a failure is dropped, so the next caller tries again.
 */
export function singleFlight<T>(
  flights: Map<string, Promise<T>>,
  key: string,
  start: () => Promise<T>,
): Promise<T> {
  let flight = flights.get(key);
  if (!flight) {
    flight = start();
    flights.set(key, flight);
    flight.catch(() => flights.delete(key));
  }
  return flight;
}
