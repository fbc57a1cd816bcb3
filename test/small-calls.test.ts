/**
 * The small calls of issue 20 item 6 inside ranks (test/suites/small-calls.ts): `Op.Create` in
 * `Allreduce`/`Reduce` against `Op.Reduce_local`, `Status.Get_count` with a datatype after real
 * messages, and the environment inquiries, on 1 to 5 ranks (and plain node), each on COMM_WORLD,
 * a dup of it and COMM_SELF.
 */
import { cases } from "./suites/small-calls.js";
import { describeSuite } from "./helpers/suites.js";

describeSuite("small-calls", cases, { sizes: ["node", 1, 2, 3, 4, 5], timeoutMs: 120_000 });
