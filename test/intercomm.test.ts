/**
 * Intercommunicators (issue 19 item 6): mpi4py's test_comm_inter.py, test_cco_obj_inter.py and
 * test_cco_buf_inter.py, translated in test/suites/intercomm.ts, with tests of their own, on 1 to
 * 5 ranks (intercommunicators need 2: one rank and COMM_SELF check that nothing is left
 * waiting), each on COMM_WORLD, a dup of it and COMM_SELF, and over ZeroMQ's ipc:// sockets.
 */
import { cases } from "./suites/intercomm.js";
import { describeSuite } from "./helpers/suites.js";

describeSuite("intercomm", cases, { sizes: [1, 2, 3, 4, 5], timeoutMs: 120_000 });
describeSuite("intercomm", cases, { sizes: [3], env: { TSMPI_SHM: "0" }, timeoutMs: 120_000 });
