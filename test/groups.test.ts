/**
 * Groups (`Group`, `GROUP_EMPTY`) and the communicator calls of issue 19 items 1, 2 and 9
 * (`Get_group`, `Create`, `Create_group`, `Split_type(COMM_TYPE_SHARED)`, `Clone`, `Idup`,
 * names, `COMM_NULL`): mpi4py's test_group.py and parts of test_comm.py, translated in
 * test/suites/groups.ts, on 1 to 5 ranks, each on COMM_WORLD, a dup of it and COMM_SELF.
 */
import { cases } from "./suites/groups.js";
import { describeSuite } from "./helpers/suites.js";

describeSuite("groups", cases, { sizes: ["node", 1, 2, 3, 4, 5], timeoutMs: 90_000 });
