/**
 * In-process checks of the matching engine's bookkeeping (issue 11, point 6): its per-context
 * maps hold only contexts with something queued, and a freed context's queue is dropped.
 */
import assert from "node:assert/strict";
import { InMsg, MatchingEngine } from "../lib/p2p/matching.js";

describe("matching engine: per-context state shrinks; a freed context is dropped", function () {
  it("the maps hold only contexts with something queued", function () {
    const engine = new MatchingEngine();
    for (let ctx = 100; ctx < 1100; ctx += 2) {
      engine.arrive(new InMsg(ctx, 0, 1, 0, 0, 0, ctx, 0));
      const handle = engine.post({ ctx, src: 0, tag: 2, deliver: () => {} });
      assert.ok(handle);
      engine.post({ ctx, src: 0, tag: 1, deliver: () => {} }); // takes the unexpected one
      assert.ok(engine.cancel(ctx, handle));
    }
    assert.equal(engine.liveContexts, 0);
  });

  it("forget drops the unexpected queue, discards later arrivals, keeps posted receives", function () {
    const engine = new MatchingEngine();
    for (let i = 0; i < 100; i++) engine.arrive(new InMsg(40, 0, 1, 0, 0, 0, i, 0));
    let matched = 0;
    engine.post({ ctx: 40, src: 0, tag: 9, deliver: () => matched++ });
    engine.forget(40);
    assert.equal(engine.pendingCount(40), 0);
    assert.equal(engine.arrive(new InMsg(40, 0, 1, 0, 0, 0, 101, 0)), true, "consumed");
    assert.equal(engine.pendingCount(40), 0);
    engine.arrive(new InMsg(40, 0, 9, 0, 0, 0, 102, 0));
    assert.equal(matched, 1, "a receive posted before the free still completes");
    assert.equal(engine.liveContexts, 0);
  });
});
