/**
 * Nonblocking and persistent collectives (issue 20 items 1 and 2): every `I*` and `*_init`
 * collective of the buffer tier and the object tier's `i*` calls, with the `Request` family and
 * overlap with computation; mpi4py's test_cco_nb_buf.py, test_cco_pr_buf.py and
 * test_cco_nb_vec.py translated in test/suites/nonblocking.ts, on 1 to 5 ranks, each on
 * COMM_WORLD, a dup of it and COMM_SELF.
 */
import { cases } from "./suites/nonblocking.js";
import { describeSuite } from "./helpers/suites.js";

describeSuite("nonblocking", cases, { sizes: [1, 2, 3, 4, 5], timeoutMs: 120_000 });
// over ipc:// sockets, and with the single-copy algorithms forced (a persistent request reuses its tag on every start)
describeSuite("nonblocking", cases, { sizes: [3], env: { TSMPI_SHM: "0" }, timeoutMs: 120_000 });
describeSuite("nonblocking", cases, {
  sizes: [3],
  env: { TSMPI_COLL: "allreduce:peer,bcast:peer,allgather:peer,reduce_scatter:peer" },
  timeoutMs: 120_000,
});
