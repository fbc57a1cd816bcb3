/**
 * In-process checks of `Request`'s completion calls (issue 11, point 6): the *some/*any calls
 * neither lose values nor pile up waiters on requests that never complete.
 */
import assert from "node:assert/strict";
import { TsmpiError } from "../lib/errors.js";
import { Request } from "../lib/request.js";

describe("Request: waitany/waitsome/testsome", function () {
  it("testsome throws the failed request's error and the completed values come with the next call", function () {
    const reqs = [new Request<number>(), new Request<number>(), new Request<number>()];
    reqs[0]!._complete(10);
    reqs[1]!._fail(new TsmpiError("ERR_TSMPI_TRUNCATE", "too long"));
    reqs[2]!._complete(30);
    assert.throws(
      () => Request.testsome(reqs),
      (e: unknown) => e instanceof TsmpiError && e.code === "ERR_TSMPI_TRUNCATE",
    );
    assert.deepEqual(Request.testsome(reqs), [
      [0, 2],
      [10, 30],
    ]);
    assert.deepEqual(Request.testsome(reqs), [undefined, undefined]);
  });

  it("waitany and waitsome remove the waiters they added once one request completed", async function () {
    const pending = Array.from({ length: 5 }, () => new Request<number>());
    for (let round = 0; round < 100; round++) {
      const finisher = new Request<number>();
      const p = Request.waitany([...pending, finisher]);
      const q = Request.waitsome([...pending, finisher]);
      finisher._complete(round);
      await p;
      await q;
    }
    for (const r of pending) assert.equal(r._waiterCount, 0, "no waiter left behind on a request that never completed");
  });
});
