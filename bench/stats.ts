/**
 * Latency sampling shared by the benchmarks that time one request at a time.
 */

/** Runs `op` n times in sequence; the sorted latencies in ms. */
export async function latencies(n: number, op: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op();
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

/** The q-quantile of sorted values (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}
