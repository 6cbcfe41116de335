interface Entry<T> {
  value?: T;
  freshUntil: number;
  refreshing?: Promise<T>;
}

/**
 * An in-process cache for the dashboard's aggregate queries (those that scan a campaign's rows): one query at a time
 * per key however many viewers poll, and once a value exists viewers get it at once while a refresh runs behind them.
 * An entry stays fresh for max(ttl, 10 × the time its query took), so a slow aggregate on a huge campaign runs rarely.
 */
export class StaleWhileRevalidateCache<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(private readonly maxEntries = 500) {}

  async get(key: string, ttlMs: number, load: () => Promise<T>): Promise<T> {
    const entry = this.entries.get(key);
    if (entry?.value !== undefined) {
      if (Date.now() >= entry.freshUntil && !entry.refreshing) this.refresh(key, entry, ttlMs, load).catch(() => undefined);
      return entry.value;
    }
    if (entry?.refreshing) return entry.refreshing;
    const created: Entry<T> = { freshUntil: 0 };
    this.entries.set(key, created);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return this.refresh(key, created, ttlMs, load);
  }

  private refresh(key: string, entry: Entry<T>, ttlMs: number, load: () => Promise<T>): Promise<T> {
    const started = Date.now();
    entry.refreshing = load().then(
      (value) => {
        entry.value = value;
        entry.freshUntil = Date.now() + Math.max(ttlMs, 10 * (Date.now() - started));
        entry.refreshing = undefined;
        return value;
      },
      (err: unknown) => {
        entry.refreshing = undefined;
        if (entry.value === undefined) this.entries.delete(key);
        throw err;
      },
    );
    return entry.refreshing;
  }
}
