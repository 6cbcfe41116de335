/**
 * The fixed buckets of the dashboard's precomputed completion rows (see CampaignProgressService): the SQL that
 * fills them and the code that reads them both take their edges from here.
 */

/** Sub-buckets per doubling of time-to-complete: each is at most 1/16 of its lower edge wide. */
const PER_OCTAVE = 16;
/** Below this, one bucket per second. */
const LINEAR_UNTIL_S = 32;
/** The last octave starts at 2^25 s (388 days); anything longer falls into the last bucket. */
const LAST_OCTAVE = 25;

/** Lower edges, in seconds, of the time-to-complete (flagged_at → completed_at) buckets; bucket i is [edge i, edge i+1). */
export const TIME_TO_COMPLETE_EDGES: readonly number[] = (() => {
  const edges: number[] = [];
  for (let s = 0; s < LINEAR_UNTIL_S; s++) edges.push(s);
  for (let e = Math.log2(LINEAR_UNTIL_S); e <= LAST_OCTAVE; e++) {
    const width = 2 ** e / PER_OCTAVE;
    for (let sub = 0; sub < PER_OCTAVE; sub++) edges.push(2 ** e + sub * width);
  }
  return edges;
})();

/**
 * Widths, in seconds, of the completion-curve buckets (completions per wall-clock interval). Every completion counts
 * in each width, so a curve of 48 points over any span reads one width's rows: the coarsest no wider than a point,
 * fewer than 4 × 48 rows whatever the campaign's size or age.
 */
export const CURVE_WIDTHS_S: readonly number[] = [15, 60, 240, 960, 3840, 15360, 61440, 245760];

/**
 * A percentile (0–1) of the time-to-complete histogram, interpolated as percentile_cont would be with each bucket's
 * values spread evenly across it. `counts[i]` is the count of bucket i. The answer lies in the bucket the exact one lies
 * in, so it is off by less than that bucket's width: under 1 s below 32 s, under 1/16 (6.25%) of the value above.
 */
export function timeToCompletePercentile(counts: ReadonlyMap<number, number>, p: number): number | null {
  const buckets = [...counts.entries()].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((sum, [, n]) => sum + n, 0);
  if (!total) return null;
  const valueAt = (rank: number): number => {
    let before = 0;
    for (const [bucket, n] of buckets) {
      if (rank < before + n) {
        const lo = TIME_TO_COMPLETE_EDGES[bucket];
        const hi = TIME_TO_COMPLETE_EDGES[bucket + 1] ?? lo * (1 + 1 / PER_OCTAVE);
        return lo + ((rank - before + 0.5) / n) * (hi - lo);
      }
      before += n;
    }
    return TIME_TO_COMPLETE_EDGES[buckets.at(-1)![0]];
  };
  const rank = p * (total - 1);
  const low = valueAt(Math.floor(rank));
  return low + (rank - Math.floor(rank)) * (valueAt(Math.ceil(rank)) - low);
}
