/**
 * Matched probes and send modes (issue 20 points 3 and 4): mpi4py's test_p2p_buf_matched.py and
 * test_p2p_obj_matched.py (test/suites/matched.ts) and the buffered, ready and Isendrecv parts of
 * test_p2p_buf.py / test_p2p_obj.py (test/suites/modes.ts), on 1 to 5 ranks, each on
 * COMM_WORLD, a dup of it and COMM_SELF; again with every same-host message read from the
 * sender's memory, and over ipc:// sockets (messages in pieces). In process: the attached
 * buffer's accounting, and `Detach_buffer` waiting for the messages that still take room.
 */
import assert from "node:assert/strict";
import { BSEND_OVERHEAD, BufferSlot, takeBuffered } from "../lib/bsend.js";
import { TsmpiError } from "../lib/errors.js";
import { cases as matched } from "./suites/matched.js";
import { cases as modes } from "./suites/modes.js";
import { describeSuite } from "./helpers/suites.js";

describeSuite("matched", matched, { sizes: [1, 2, 3, 4, 5] });
describeSuite("matched", matched, { sizes: [3], env: { TSMPI_CMA_THRESHOLD: "1" } });
describeSuite("matched", matched, { sizes: [3], env: { TSMPI_SHM: "0" } });
describeSuite("modes", modes, { sizes: [1, 2, 3, 4, 5] });
describeSuite("modes", modes, { sizes: [3], env: { TSMPI_SHM: "0" } });

const isBufferError = (e: unknown) => e instanceof TsmpiError && e.code === "ERR_TSMPI_BUFFER";

describe("attached buffer accounting (in process)", function () {
  it("each message takes its size + BSEND_OVERHEAD until released; one that does not fit is ERR_TSMPI_BUFFER naming the sizes", function () {
    const slot = new BufferSlot("this communicator");
    slot.attach(new Uint8Array(2 * (100 + BSEND_OVERHEAD)), "Attach_buffer");
    const a = takeBuffered(slot, 100, "Bsend");
    const b = takeBuffered(slot, 100, "Bsend");
    assert.throws(
      () => takeBuffered(slot, 0, "Bsend"),
      (e: unknown) =>
        isBufferError(e) &&
        /needs 512 bytes/.test((e as Error).message) &&
        /0 of its 1224 bytes free \(2 buffered/.test((e as Error).message),
    );
    a();
    a(); // giving back twice gives back once
    assert.throws(() => takeBuffered(slot, 101, "Bsend"), isBufferError);
    const c = takeBuffered(slot, 100, "Bsend");
    b();
    c();
    takeBuffered(slot, 2 * 100 + BSEND_OVERHEAD, "Bsend")(); // one message may use it all
  });

  it("Detach_buffer detaches at once and resolves with the buffer once the last message left; Flush_buffer waits the same", async function () {
    const slot = new BufferSlot("this communicator");
    const mem = new Float64Array(1000);
    slot.attach(mem, "Attach_buffer");
    const release = [takeBuffered(slot, 10, "Bsend"), takeBuffered(slot, 20, "Bsend")];
    let flushed = false;
    void slot.flush().then(() => (flushed = true));
    let detached: unknown = "pending";
    const d = slot.detach().then((b) => (detached = b));
    assert.equal(slot.attached, false);
    assert.equal(slot.take(1, "Bsend"), undefined, "nothing attached once detaching");
    release[0]!();
    await new Promise((r) => setImmediate(r));
    assert.equal(detached, "pending");
    assert.equal(flushed, false);
    release[1]!();
    await d;
    assert.equal(detached, mem);
    assert.equal(flushed, true);
    assert.equal(await slot.detach(), null);
  });
});
