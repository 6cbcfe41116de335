const BITS = 2 ** 26; // 8 MiB, whatever the file size

/**
 * A one-hash Bloom filter over the usernames of a file. It answers "certainly new" for almost every
 * row, so the database only has to confirm duplicates among the few rows it flags instead of sorting
 * every username of the file; a false "maybe" costs a little work, never a wrong answer.
 */
export class SeenFilter {
  private readonly words = new Uint32Array(BITS / 32);

  /** Records `value`; true when it may have been recorded before. */
  add(value: string): boolean {
    let h = 0x811c9dc5;
    for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193);
    h = (h ^ (h >>> 15)) & (BITS - 1);
    const word = h >>> 5;
    const bit = 1 << (h & 31);
    const seen = (this.words[word] & bit) !== 0;
    this.words[word] |= bit;
    return seen;
  }
}
