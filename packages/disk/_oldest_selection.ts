/**
 * The oldest files whose allocated bytes add up to a target, kept in a bounded max-heap over typed arrays: memory
 * is O(capacity) however many files are offered. A file is dropped (newest first) once the older ones already
 * cover the target, or when the heap is full; `leftOut` counts the eligible files not kept.
 */
export class OldestSelection {
  readonly #capacity: number;
  readonly #target: number;
  readonly #ts: Float64Array;
  readonly #alloc: Float64Array;
  readonly #size: Float64Array;
  readonly #mtime: Float64Array;
  readonly #paths: Array<string | undefined>;
  readonly #heap: Int32Array;
  readonly #free: number[] = [];
  #count = 0;
  #sumAlloc = 0;
  leftOut = 0;

  constructor(capacity: number, targetBytes: number) {
    this.#capacity = capacity;
    this.#target = targetBytes;
    this.#ts = new Float64Array(capacity + 1);
    this.#alloc = new Float64Array(capacity + 1);
    this.#size = new Float64Array(capacity + 1);
    this.#mtime = new Float64Array(capacity + 1);
    this.#paths = new Array<string | undefined>(capacity + 1);
    this.#heap = new Int32Array(capacity + 1);
    for (let slot = capacity; slot >= 0; slot--) this.#free.push(slot);
  }

  get count(): number {
    return this.#count;
  }

  offer(path: string, ts: number, alloc: number, size: number, mtime: number): void {
    if (this.#count >= this.#capacity && ts >= this.#ts[this.#heap[0]!]!) {
      this.leftOut++;
      return;
    }
    const slot = this.#free.pop()!;
    this.#ts[slot] = ts;
    this.#alloc[slot] = alloc;
    this.#size[slot] = size;
    this.#mtime[slot] = mtime;
    this.#paths[slot] = path;
    this.#sumAlloc += alloc;
    this.#push(slot);
    while (this.#count > this.#capacity || (this.#count > 1 && this.#sumAlloc - this.#alloc[this.#heap[0]!]! >= this.#target)) {
      this.#dropNewest();
      this.leftOut++;
    }
  }

  /** The kept files, oldest first. Empties the selection. */
  drainOldestFirst(): Array<{ path: string; ts: number; alloc: number; size: number; mtime: number }> {
    const out: Array<{ path: string; ts: number; alloc: number; size: number; mtime: number }> = [];
    for (let i = 0; i < this.#count; i++) {
      const slot = this.#heap[i]!;
      out.push({ path: this.#paths[slot]!, ts: this.#ts[slot]!, alloc: this.#alloc[slot]!, size: this.#size[slot]!, mtime: this.#mtime[slot]! });
      this.#paths[slot] = undefined;
    }
    this.#count = 0;
    this.#sumAlloc = 0;
    return out.sort((a, b) => a.ts - b.ts);
  }

  #push(slot: number): void {
    const heap = this.#heap;
    const ts = this.#ts;
    let i = this.#count++;
    heap[i] = slot;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (ts[heap[parent]!]! >= ts[heap[i]!]!) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  #dropNewest(): void {
    const heap = this.#heap;
    const ts = this.#ts;
    const top = heap[0]!;
    this.#sumAlloc -= this.#alloc[top]!;
    this.#paths[top] = undefined;
    this.#free.push(top);
    const last = --this.#count;
    heap[0] = heap[last]!;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let largest = i;
      if (left < last && ts[heap[left]!]! > ts[heap[largest]!]!) largest = left;
      if (right < last && ts[heap[right]!]! > ts[heap[largest]!]!) largest = right;
      if (largest === i) break;
      [heap[largest], heap[i]] = [heap[i]!, heap[largest]!];
      i = largest;
    }
  }
}
