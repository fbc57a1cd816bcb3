/**
 * The linger of a finishing rank: how long it keeps handing on what it still queues while
 * nothing moves. A receiver that takes the data (a large message on its way) keeps the rank
 * waiting; one that takes nothing for `TSMPI_LINGER_MS` (it stopped receiving, or is gone
 * without saying so) ends the wait, and what is left is dropped.
 *
 * @module
 */

/** Resolves {@link expired} once `progress()` (any counter that grows as data moves) stayed the same for `ms`. */
export class Linger {
  /** Resolves when nothing moved for the linger time (at once for 0). */
  readonly expired: Promise<void>;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly ms: number,
    progress: () => number,
  ) {
    this.expired = new Promise((resolve) => {
      if (ms <= 0) return resolve();
      let last = progress();
      let since = Date.now();
      this.timer = setInterval(
        () => {
          const now = progress();
          if (now !== last) {
            last = now;
            since = Date.now();
          } else if (Date.now() - since >= ms) {
            this.stop();
            resolve();
          }
        },
        Math.max(10, Math.min(100, ms / 4)),
      );
    });
  }

  /** Stops watching (the wait ended another way). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
