const BITS = 2 ** 26; // 8 MiB, whatever the file size

/**
 * A one-hash Bloom filter over usernames (of a file, or of the existing accounts). It answers "certainly
 * new" for almost every row, so the database only has to confirm the few rows it flags instead of joining
 * or sorting every username of the file; a false "maybe" costs a little work, never a wrong answer.
 */
export class SeenFilter {
  private readonly words = new Uint32Array(BITS / 32);

  /** Records `value`; true when it may have been recorded before. */
  add(value: string): boolean {
    const h = bitOf(value);
    const seen = this.test(h);
    this.words[h >>> 5] |= 1 << (h & 31);
    return seen;
  }

  /** True when `value` may have been recorded. */
  has(value: string): boolean {
    return this.test(bitOf(value));
  }

  private test(h: number): boolean {
    return (this.words[h >>> 5] & (1 << (h & 31))) !== 0;
  }
}

function bitOf(value: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) & (BITS - 1);
}
