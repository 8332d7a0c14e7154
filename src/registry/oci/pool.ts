/** Maps `items` through `fn` with at most `limit` calls in flight; keeps input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  // One failure rejects the whole map; the other workers stop picking up new items.
  let failed = false;
  const guarded = async () => {
    try {
      await worker();
    } catch (e) {
      failed = true;
      next = items.length;
      throw e;
    }
  };
  const settled = await Promise.allSettled(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, guarded),
  );
  if (failed) throw (settled.find((s) => s.status === 'rejected') as PromiseRejectedResult).reason;
  return results;
}
