// A bounded turn-taking queue for the gateway's expensive reads (lookups by id, searches).
import { Busy } from "./http.js";

/**
 * At most `size` holders at once, the others waiting in order, and past `waiting` of them a
 * `Busy` (429) with `busy` as its message: what keeps a crowd of lookups or searches from
 * queueing their reads in Redis, or their matching in this thread, back to back.
 */
export class Slots {
  #queue = [];
  #held = 0;

  constructor(size, waiting, busy) {
    this.size = size;
    this.waiting = waiting;
    this.busy = busy;
  }

  /** Resolves with the slot's release once one is free; rejects with `Busy` past the queue. */
  take() {
    return new Promise((resolve, reject) => {
      const release = () => {
        const next = this.#queue.shift();
        if (next) next(release);
        else this.#held--;
      };
      if (this.#held < this.size) {
        this.#held++;
        resolve(release);
      } else if (this.#queue.length >= this.waiting) {
        reject(new Busy(this.busy));
      } else this.#queue.push(resolve);
    });
  }
}
