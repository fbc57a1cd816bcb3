/**
 * The interface every transport implements (`zmq.ts`, `shm.ts`, and `path.ts`, which picks one
 * of them per peer): what the point-to-point layer (`p2p/protocol.ts`) needs to move framed
 * messages between ranks. A file of its own, so that neither transport is the other's reference
 * and the protocol depends on the interface alone.
 *
 * @module
 */
/** What the point-to-point layer needs from a transport. */
export interface Transport {
  /** This process's world rank. */
  readonly rank: number;
  /**
   * Queues `frames` as one message to world rank `dest` (never this rank); order per `dest` is
   * kept. `sent` is called (perhaps at once) when the transport has taken the message, after
   * which its frames may be reused; a transport with bounded room calls it only once there was
   * room.
   */
  send(dest: number, frames: Buffer[], sent?: () => void, borrowed?: boolean): void;
  /**
   * Whether `send` to `dest` accepts `borrowed` frames: frames (after the first) that are the
   * caller's memory, valid only during the call, which the transport copies before it returns
   * or keeps a copy of. Saves the caller a copy of eager payloads.
   */
  copiesBorrowed(dest: number): boolean;
  /**
   * A single-copy payload of `bytes` was lent to `dest`, which reads it out of this process and
   * then acks: a rank waiting for that ack may poll on for about as long as the read takes.
   * Optional (a transport that never polls ignores it).
   */
  lending?(dest: number, bytes: number): void;
  /** Something now waits for incoming messages: keep the receive loop running. */
  hold(): void;
  /** One waiter fewer. */
  release(): void;
  /** Pull in whatever has already arrived, without waiting for more. */
  poke(): void;
  /**
   * Hands queued messages on for at most `lingerMs` (may be Infinity), or until `giveUp`
   * resolves, then closes: what is still queued is dropped (see {@link undelivered}).
   */
  close(lingerMs: number, giveUp?: Promise<void>): Promise<void>;
  /** A counter that grows whenever queued data moved on (for {@link Linger}). Optional. */
  progress?(): number;
  /**
   * World rank `dest` finished (or is gone): drop what is queued for it, and what is sent to it
   * from now on. Optional.
   */
  abandon?(dest: number): void;
  /**
   * Messages per world rank that were queued here and never left, or still wait to (after a
   * `close` whose linger ran out, or an {@link abandon}). Optional.
   */
  undelivered?(): Map<number, number>;
  /** Takes in what has arrived so far (waiting at most `timeoutMs`). Optional. */
  drain?(timeoutMs: number): Promise<void>;
  /** Whether a message to `dest` needs no connection of its own (shared memory). Optional. */
  nearby?(dest: number): boolean;
  /** Set by the user of the transport: called when the transport finds world rank `dest` gone (after an {@link abandon}). */
  onGone?: (dest: number) => void;
}
