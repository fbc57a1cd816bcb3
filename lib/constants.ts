/**
 * MPI's special values, as distinct negative integers (so a wildcard can never be a real rank
 * or tag), and the largest valid tag.
 *
 * @module
 */

/** Receive from any source (`MPI_ANY_SOURCE`). Valid only as a receive/probe source. */
export const ANY_SOURCE = -1;
/** Receive with any tag (`MPI_ANY_TAG`). Valid only as a receive/probe tag. */
export const ANY_TAG = -2;
/** The null process (`MPI_PROC_NULL`): a send to it or a receive from it completes at once and moves nothing. */
export const PROC_NULL = -3;
/** `MPI_UNDEFINED`: a `split` color meaning "no communicator", and the index `waitany` returns when all requests are inactive. */
export const UNDEFINED = -32766;
/**
 * `MPI_ROOT`: the root of an intercommunicator collective passes this as `root`; the other ranks
 * of its group pass `PROC_NULL`, the other group the root's rank.
 */
export const ROOT = -4;
/** The largest valid tag (`MPI_TAG_UB`); user tags are integers in `[0, TAG_UB]`. */
export const TAG_UB = 2 ** 31 - 1;

/**
 * `MPI_APPNUM`, a key for `COMM_WORLD.Get_attr`: the value is the part of an MPMD command line
 * (`tsmpirun -n 1 a.ts : -n 4 b.js`) this rank runs, from 0 (0 for a one-program job). The
 * number is Open MPI's key for it; `Get_attr(TAG_UB)` gives `TAG_UB`.
 */
export const APPNUM = 4;

/**
 * `MPI_IN_PLACE`: pass as the send buffer of `Allreduce`, `Reduce` (at the root), `Scan`,
 * `Exscan`, `Allgather` and `Gather` (at the root) to take this rank's operand from, and leave
 * the result in, the receive buffer.
 */
export const IN_PLACE: unique symbol = Symbol("IN_PLACE");

/** `comm.compare` results (`MPI_IDENT`, ...). */
export const IDENT = 0;
export const CONGRUENT = 1;
export const SIMILAR = 2;
export const UNEQUAL = 3;

/** `comm.Split_type` type: the ranks that share this host's memory (`MPI_COMM_TYPE_SHARED`). */
export const COMM_TYPE_SHARED = 0;

/** `comm.topology` values (`MPI_CART`, `MPI_GRAPH`, `MPI_DIST_GRAPH`); a communicator without a topology has `UNDEFINED`. */
export const CART = 1;
export const GRAPH = 2;
export const DIST_GRAPH = 3;

/** Weights argument of the distributed-graph constructors: the edges have no weights (`MPI_UNWEIGHTED`, also what `null` means). */
export const UNWEIGHTED: unique symbol = Symbol("UNWEIGHTED");
/** Weights argument of the distributed-graph constructors: weighted, with no edges on this side (`MPI_WEIGHTS_EMPTY`). */
export const WEIGHTS_EMPTY: unique symbol = Symbol("WEIGHTS_EMPTY");

/**
 * The null communicator (`MPI_COMM_NULL`): what `split`, `Create`, `Split_type`, `Create_cart`
 * and `Sub` return to a rank that gets no communicator. It is `null`, so `comm === COMM_NULL`
 * and `if (!comm)` both test for it.
 */
export const COMM_NULL = null;

/**
 * `MPI_UNIVERSE_SIZE`, a key for `COMM_WORLD.Get_attr`: how many ranks the job's hosts hold
 * (`universeSize()`). The number is Open MPI's (and mpi4py's) key for it.
 */
export const UNIVERSE_SIZE = 6;

/**
 * Levels of thread support (`MPI_THREAD_SINGLE` < `FUNNELED` < `SERIALIZED` < `MULTIPLE`), as
 * `Query_thread()` reports them. tsmpi provides `THREAD_FUNNELED`: a rank is one Node process
 * whose main thread imported tsmpi and makes every call (many may be outstanding at once, as
 * promises on its event loop); worker threads may exist but must not use tsmpi.
 */
export const THREAD_SINGLE = 0;
export const THREAD_FUNNELED = 1;
export const THREAD_SERIALIZED = 2;
export const THREAD_MULTIPLE = 3;

/**
 * The version of the MPI standard whose names and semantics tsmpi's API follows
 * (`MPI_VERSION`, `MPI_SUBVERSION`; `Get_version()`): MPI 4.0, through mpi4py 4.x's names, for
 * the parts it implements (see the README for what is not there yet).
 */
export const VERSION = 4;
export const SUBVERSION = 0;
