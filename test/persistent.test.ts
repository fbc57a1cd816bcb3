/**
 * Persistent point-to-point requests (issue 20 item 2): `Send_init`, `Ssend_init`, `Bsend_init`,
 * `Rsend_init`, `Recv_init`, `Prequest.Start`/`Startall`, inactive between uses; mpi4py's
 * test_p2p_buf.py persistent tests translated in test/suites/persistent.ts, on 1 to 5 ranks, each
 * on COMM_WORLD, a dup of it and COMM_SELF, and over ipc:// sockets (TSMPI_SHM=0).
 */
import { cases } from "./suites/persistent.js";
import { describeSuite } from "./helpers/suites.js";

describeSuite("persistent", cases, { sizes: [1, 2, 3, 4, 5], timeoutMs: 120_000 });
describeSuite("persistent", cases, { sizes: [3], env: { TSMPI_SHM: "0" }, timeoutMs: 120_000 });
