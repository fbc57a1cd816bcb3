/**
 * Point-to-point semantics at world sizes 1 to 4 and in a plain `node` process, each case on
 * COMM_WORLD, a dup of it and COMM_SELF; again with every message single-copy, and with every
 * single-copy read failing over to a resend, and with the shared-memory path off (TSMPI_SHM=0).
 */
import assert from "node:assert/strict";
import { cases } from "./suites/p2p.js";
import { describeSuite } from "./helpers/suites.js";
import { checkJob, fixture, tsmpirun } from "./helpers/launch.js";

describeSuite("p2p", cases, { sizes: ["node", 1, 2, 3, 4] });
// Every message between ranks of this host sent by address and read by the receiver (single
// copy); then every such read failing, so each falls back to the sender resending the bytes.
describeSuite("p2p", cases, { sizes: [2, 3], env: { TSMPI_CMA_THRESHOLD: "1" } });
describeSuite("p2p", cases, { sizes: [2], env: { TSMPI_CMA_THRESHOLD: "1", TSMPI_CMA: "fail-reads" } });
// Same-host ranks talk through shared memory by default; again through ipc:// sockets without it.
describeSuite("p2p", cases, { sizes: [2, 3], env: { TSMPI_SHM: "0" } });

describe("messages of at least 1 GiB", function () {
  this.timeout(180000);
  it("Send/Recv and send/recv of 1 GiB + 3 bytes arrive intact between two ranks", async function () {
    const r = await tsmpirun(["-n", "2", fixture("huge.js")], { timeoutMs: 170000 });
    await checkJob(r, 0);
    assert.match(r.stdout, /received 2 messages of 1 GiB \+ 3 bytes intact/);
  });
});

describe("only the job's ranks can send to a rank", function () {
  it("a message from a socket without the job's token is dropped, and the rank says so once", async function () {
    const r = await tsmpirun(["-n", "2", fixture("intruder.js")], { timeoutMs: 30000 });
    await checkJob(r, 0);
    assert.equal(r.stdout, 'rank 1 got "legit"\n');
    assert.match(r.stderr, /rank 1 dropped a frame without this job's token/);
  });
});
