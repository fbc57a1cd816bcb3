/**
 * Point-to-point semantics at world sizes 1 to 4 and in a plain `node` process, each case on
 * COMM_WORLD, a dup of it and COMM_SELF.
 */
import { cases } from "./cases/p2p.js";
import { describeCases } from "./helpers/cases.js";

describeCases("p2p", cases, { sizes: ["node", 1, 2, 3, 4] });
