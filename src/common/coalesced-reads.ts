/**
 * Concurrent reads of the same key share one query, and no caller gets an answer read before it asked: a caller
 * that arrives while a query for its key runs waits for it to finish and joins the next one, together with everyone
 * else who arrived meanwhile. Many viewers polling one campaign then cost at most one query in flight per key, while
 * every answer still reflects every write committed before its request arrived (an action followed by a read sees
 * the action). Nothing is kept once a query settles, so there is nothing to invalidate.
 */
export class CoalescedReads<T> {
  private readonly running = new Map<string, Promise<T>>();
  private readonly queued = new Map<string, Promise<T>>();

  read(key: string, load: () => Promise<T>): Promise<T> {
    const queued = this.queued.get(key);
    if (queued) return queued;
    const running = this.running.get(key);
    if (!running) return this.start(key, load);
    const next = running.then(settled, settled).then(() => {
      this.queued.delete(key);
      return this.start(key, load);
    });
    this.queued.set(key, next);
    return next;
  }

  private start(key: string, load: () => Promise<T>): Promise<T> {
    const query: Promise<T> = (async () => load())().finally(() => {
      if (this.running.get(key) === query) this.running.delete(key);
    });
    this.running.set(key, query);
    return query;
  }
}

function settled(): void {}
