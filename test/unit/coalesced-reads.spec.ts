import { describe, expect, it } from 'vitest';
import { CoalescedReads } from '../../src/common/coalesced-reads.js';

/** A load that returns the number of its call and resolves only when released. */
function controlledLoads() {
  const pending: Array<(value: number) => void> = [];
  let calls = 0;
  return {
    load: () => {
      const n = ++calls;
      return new Promise<number>((resolve, reject) => pending.push((v) => (v < 0 ? reject(new Error(`load ${n} failed`)) : resolve(n))));
    },
    release: (value = 0) => pending.shift()!(value),
    get calls() {
      return calls;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('coalesced reads', () => {
  it('answers everyone who asked while a load ran from one next load, never from the load already running', async () => {
    const reads = new CoalescedReads<number>();
    const l = controlledLoads();
    const first = reads.read('a', l.load);
    const waiting = [reads.read('a', l.load), reads.read('a', l.load), reads.read('a', l.load)];
    await tick();
    expect(l.calls).toBe(1);
    l.release();
    expect(await first).toBe(1);
    await tick();
    expect(l.calls).toBe(2);
    l.release();
    expect(await Promise.all(waiting)).toEqual([2, 2, 2]);
    // Nothing is kept once a load settles: the next caller gets a new one.
    const later = reads.read('a', l.load);
    l.release();
    expect(await later).toBe(3);
  });

  it('keeps keys apart and passes a failure to the callers of that load only', async () => {
    const reads = new CoalescedReads<number>();
    const l = controlledLoads();
    const failing = reads.read('a', l.load);
    const other = reads.read('b', l.load);
    const next = reads.read('a', l.load);
    l.release(-1);
    await expect(failing).rejects.toThrow('load 1 failed');
    l.release();
    expect(await other).toBe(2);
    await tick();
    l.release();
    expect(await next).toBe(3);
  });
});
