// A ThreadPool's shared memory as both sides see it (layout.ts draws it):
// allocated once on the main thread, wrapped again from the same buffers in
// every worker.
import { ringCapacity } from "../_common/numbers.ts";
import { RingBuffer } from "../ring_buffer.ts";
import {
  controlWords,
  firstSlotWord,
  type PoolBuffers,
  SLOT_STRIDE,
} from "./layout.ts";

/** The two rings, the control block and the data block of one pool. */
export class PoolMemory {
  /** Slot ids of queued jobs, main thread -> workers. */
  readonly jobs: RingBuffer;
  /** Slot ids of finished (or handed back) jobs, workers -> main thread. */
  readonly completions: RingBuffer;
  readonly control: Int32Array;
  readonly data: Uint8Array;
  /** Pool size: the worker words come before the slot words. */
  readonly size: number;
  /** Bytes of a slot's region in the data block (a multiple of 8). */
  readonly slotBytes: number;
  readonly firstSlotWord: number;

  /** Allocates the memory of a pool of `size` workers and `slots` slots. */
  static allocate(size: number, slots: number, slotBytes: number): PoolMemory {
    // Rings hold twice the slots so a push never finds a ring truly full.
    const capacity = ringCapacity(2 * slots);
    return new PoolMemory(
      new RingBuffer(capacity),
      new RingBuffer(capacity),
      new SharedArrayBuffer(controlWords(size, slots) * 4),
      new SharedArrayBuffer(slots * slotBytes),
      size,
      slotBytes,
    );
  }

  /** Wraps the buffers a worker received. */
  static from(buffers: PoolBuffers): PoolMemory {
    return new PoolMemory(
      RingBuffer.from(buffers.jobs),
      RingBuffer.from(buffers.completions),
      buffers.control,
      buffers.data,
      buffers.size,
      buffers.slotBytes,
    );
  }

  private constructor(
    jobs: RingBuffer,
    completions: RingBuffer,
    control: SharedArrayBuffer,
    data: SharedArrayBuffer,
    size: number,
    slotBytes: number,
  ) {
    this.jobs = jobs;
    this.completions = completions;
    this.control = new Int32Array(control);
    this.data = new Uint8Array(data);
    this.size = size;
    this.slotBytes = slotBytes;
    this.firstSlotWord = firstSlotWord(size);
  }

  /** The buffers to hand to a worker, which wraps them with `from()`. */
  buffers(): PoolBuffers {
    return {
      jobs: this.jobs.buffer,
      completions: this.completions.buffer,
      control: this.control.buffer as SharedArrayBuffer,
      data: this.data.buffer as SharedArrayBuffer,
      size: this.size,
      slotBytes: this.slotBytes,
    };
  }

  /** Word index of slot `slot`'s field `field` (S_* of layout.ts). */
  slotWord(slot: number, field: number): number {
    return this.firstSlotWord + SLOT_STRIDE * slot + field;
  }
}
