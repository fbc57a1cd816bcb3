/**
 * tsmpi/futures' Future, wait and asCompleted, translated from CPython's
 * Lib/test/test_concurrent_futures/ (test_future.py, test_as_completed.py, test_wait.py)
 * assertion for assertion where the semantics carry over. Unit tests drive futures by hand
 * through the executor-side API (setRunningOrNotifyCancel, setResult, setException), as
 * CPython's util.create_future does; the executor tests run the same checks against a
 * PoolExecutor (2 spawned workers, and over the workers of `tsmpirun -m tsmpi/futures`) and a
 * CommExecutor (tsmpirun -n 3) in test/fixtures/futures-future.ts.
 *
 * Left out: test_repr's memory address (JavaScript has none), test_class_str, _get_snapshot
 * and the thread-safety tests (one thread here), test_free_reference_yielded_future's weakref
 * checks (its timeout and ordering assertions are kept).
 */
import assert from "node:assert/strict";
import { TsmpiError } from "../lib/errors.js";
import { Future, type FutureState } from "../lib/futures/future.js";
import { ALL_COMPLETED, asCompleted, FIRST_COMPLETED, FIRST_EXCEPTION, wait } from "../lib/futures/wait.js";
import { fixture, runNode, settledLeftovers, tsmpirun, type JobResult } from "./helpers/launch.js";

/** CPython's util.create_future: a future in `state`, driven there by the executor-side API. */
function createFuture<T = unknown>(state: FutureState, opts: { result?: T; exception?: Error } = {}): Future<T> {
  const f = new Future<T>();
  if (state === "RUNNING") f.setRunningOrNotifyCancel();
  else if (state === "CANCELLED") f.cancel();
  else if (state === "CANCELLED_AND_NOTIFIED") {
    f.cancel();
    f.setRunningOrNotifyCancel();
  } else if (state === "FINISHED") {
    if (opts.exception) f.setException(opts.exception);
    else f.setResult(opts.result as T);
  }
  return f;
}

class OSError extends Error {
  override get name(): string {
    return "OSError";
  }
}

/** Fresh copies of util.py's module-level futures. */
function fixtures() {
  return {
    PENDING: createFuture("PENDING"),
    RUNNING: createFuture("RUNNING"),
    CANCELLED: createFuture("CANCELLED"),
    CANCELLED_AND_NOTIFIED: createFuture("CANCELLED_AND_NOTIFIED"),
    EXCEPTION: createFuture("FINISHED", { exception: new OSError() }),
    SUCCESSFUL: createFuture("FINISHED", { result: 42 }),
  };
}

function code(c: string) {
  return (e: unknown) => e instanceof TsmpiError && e.code === c;
}

/** Runs `fn` after `ms` (CPython's tests use a thread that sleeps, then acts). */
function later(ms: number, fn: () => void): void {
  setTimeout(fn, ms);
}

/** Collects the process warnings emitted while `fn` runs (done callbacks' exceptions are reported so). */
async function warnings(fn: () => void): Promise<string[]> {
  const seen: string[] = [];
  const on = (w: Error): void => {
    seen.push(w.message);
  };
  process.on("warning", on);
  try {
    fn();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off("warning", on);
  }
  return seen;
}

describe("Future (test_future.py)", function () {
  it("test_done_callback_with_result", async function () {
    let got: unknown;
    const f = new Future<number>();
    f.addDoneCallback((g) => {
      got = g.result();
    });
    f.setResult(5);
    assert.equal(await got, 5);
  });

  it("test_done_callback_with_exception", async function () {
    let got: unknown;
    const f = new Future();
    f.addDoneCallback((g) => {
      got = g.exception();
    });
    f.setException(new Error("test"));
    assert.equal(((await got) as Error).message, "test");
  });

  it("test_done_callback_with_cancel", function () {
    let wasCancelled: boolean | undefined;
    const f = new Future();
    f.addDoneCallback((g) => {
      wasCancelled = g.cancelled();
    });
    assert.equal(f.cancel(), true);
    assert.equal(wasCancelled, true);
  });

  it("test_done_callback_raises: reported, the other callbacks still run, called once", async function () {
    let raisingCalls = 0;
    let fnCalls = 0;
    const f = new Future<number>();
    const seen = await warnings(() => {
      f.addDoneCallback(() => {
        raisingCalls++;
        throw new Error("doh!");
      });
      f.addDoneCallback(() => {
        fnCalls++;
      });
      f.setResult(5);
    });
    assert.equal(raisingCalls, 1);
    assert.equal(fnCalls, 1);
    assert.ok(
      seen.some((m) => m.includes("Error: doh!")),
      String(seen),
    );
  });

  it("test_done_callback_already_successful / already_failed / already_cancelled: called at once", async function () {
    const ok = new Future<number>();
    ok.setResult(5);
    let r: unknown;
    ok.addDoneCallback((g) => {
      r = g.result();
    });
    assert.equal(await r, 5);
    const bad = new Future();
    bad.setException(new Error("test"));
    let e: unknown;
    bad.addDoneCallback((g) => {
      e = g.exception();
    });
    assert.equal(((await e) as Error).message, "test");
    const c = new Future();
    assert.equal(c.cancel(), true);
    let wasCancelled: boolean | undefined;
    c.addDoneCallback((g) => {
      wasCancelled = g.cancelled();
    });
    assert.equal(wasCancelled, true);
  });

  it("test_done_callback_raises_already_succeeded: reported with the future", async function () {
    const f = new Future<number>();
    f.setResult(5);
    const seen = await warnings(() =>
      f.addDoneCallback(() => {
        throw new Error("doh!");
      }),
    );
    assert.ok(
      seen.some((m) => m.includes("exception calling callback for") && m.includes("doh!")),
      String(seen),
    );
  });

  it("test_repr (without the address)", function () {
    const F = fixtures();
    assert.equal(String(F.PENDING), "<Future state=pending>");
    assert.equal(String(F.RUNNING), "<Future state=running>");
    assert.equal(String(F.CANCELLED), "<Future state=cancelled>");
    assert.equal(String(F.CANCELLED_AND_NOTIFIED), "<Future state=cancelled>");
    assert.equal(String(F.EXCEPTION), "<Future state=finished raised OSError>");
    assert.equal(String(F.SUCCESSFUL), "<Future state=finished returned number>");
  });

  it("test_cancel", function () {
    const f1 = createFuture("PENDING");
    const f2 = createFuture("RUNNING");
    const f3 = createFuture("CANCELLED");
    const f4 = createFuture("CANCELLED_AND_NOTIFIED");
    const f5 = createFuture("FINISHED", { exception: new OSError() });
    const f6 = createFuture("FINISHED", { result: 5 });
    assert.equal(f1.cancel(), true);
    assert.equal(f1.state, "CANCELLED");
    assert.equal(f2.cancel(), false);
    assert.equal(f2.state, "RUNNING");
    assert.equal(f3.cancel(), true);
    assert.equal(f3.state, "CANCELLED");
    assert.equal(f4.cancel(), true);
    assert.equal(f4.state, "CANCELLED_AND_NOTIFIED");
    assert.equal(f5.cancel(), false);
    assert.equal(f5.state, "FINISHED");
    assert.equal(f6.cancel(), false);
    assert.equal(f6.state, "FINISHED");
  });

  it("test_cancelled, test_done, test_running", function () {
    const F = fixtures();
    const order = [F.PENDING, F.RUNNING, F.CANCELLED, F.CANCELLED_AND_NOTIFIED, F.EXCEPTION, F.SUCCESSFUL];
    assert.deepEqual(
      order.map((f) => f.cancelled()),
      [false, false, true, true, false, false],
    );
    assert.deepEqual(
      order.map((f) => f.done()),
      [false, false, true, true, true, true],
    );
    assert.deepEqual(
      order.map((f) => f.running()),
      [false, true, false, false, false, false],
    );
  });

  it("test_result_with_timeout", async function () {
    const F = fixtures();
    await assert.rejects(F.PENDING.result(0), code("ERR_TSMPI_TIMEOUT"));
    await assert.rejects(F.RUNNING.result(0), code("ERR_TSMPI_TIMEOUT"));
    await assert.rejects(F.CANCELLED.result(0), code("ERR_TSMPI_CANCELLED"));
    await assert.rejects(F.CANCELLED_AND_NOTIFIED.result(0), code("ERR_TSMPI_CANCELLED"));
    await assert.rejects(F.EXCEPTION.result(0), OSError);
    assert.equal(await F.SUCCESSFUL.result(0), 42);
  });

  it("test_result_with_success", async function () {
    const f1 = createFuture<number>("PENDING");
    later(100, () => f1.setResult(42));
    assert.equal(await f1.result(5), 42);
  });

  it("test_result_with_cancel", async function () {
    const f1 = createFuture("PENDING");
    later(100, () => f1.cancel());
    await assert.rejects(f1.result(30), code("ERR_TSMPI_CANCELLED"));
  });

  it("test_exception_with_timeout", async function () {
    const F = fixtures();
    await assert.rejects(F.PENDING.exception(0), code("ERR_TSMPI_TIMEOUT"));
    await assert.rejects(F.RUNNING.exception(0), code("ERR_TSMPI_TIMEOUT"));
    await assert.rejects(F.CANCELLED.exception(0), code("ERR_TSMPI_CANCELLED"));
    await assert.rejects(F.CANCELLED_AND_NOTIFIED.exception(0), code("ERR_TSMPI_CANCELLED"));
    assert.ok((await F.EXCEPTION.exception(0)) instanceof OSError);
    assert.equal(await F.SUCCESSFUL.exception(0), undefined);
  });

  it("test_exception_with_success", async function () {
    const f1 = createFuture("PENDING");
    later(100, () => f1.setException(new OSError()));
    assert.ok((await f1.exception(30)) instanceof OSError);
  });

  it("test_multiple_set_result / test_multiple_set_exception: an invalid state", async function () {
    const f = createFuture<number>("PENDING");
    f.setResult(1);
    assert.throws(
      () => f.setResult(2),
      (e: unknown) => code("ERR_TSMPI_INTERNAL")(e) && /FINISHED: <Future state=finished returned number>/.test((e as Error).message),
    );
    assert.equal(f.done(), true);
    assert.equal(await f.result(), 1);
    const g = createFuture("PENDING");
    const e = new RangeError();
    g.setException(e);
    assert.throws(
      () => g.setException(new Error()),
      (x: unknown) => code("ERR_TSMPI_INTERNAL")(x) && /FINISHED: <Future state=finished raised RangeError>/.test((x as Error).message),
    );
    assert.equal(await g.exception(), e);
  });

  it("a thenable: await, then, catch, finally; rejects as result() does", async function () {
    const ok = new Future<number>();
    later(10, () => ok.setResult(7));
    assert.equal(await ok, 7);
    assert.equal(await ok.then((v) => v + 1), 8);
    let fin = 0;
    assert.equal(
      await ok.finally(() => {
        fin++;
      }),
      7,
    );
    assert.equal(fin, 1);
    const bad = createFuture("FINISHED", { exception: new OSError("no") });
    await assert.rejects(async () => await bad, OSError);
    assert.equal(await bad.catch((e: Error) => e.message), "no");
    const c = createFuture("CANCELLED");
    await assert.rejects(async () => await c, code("ERR_TSMPI_CANCELLED"));
  });

  it("cancel() calls the executor's hook once, and the future is at once CANCELLED_AND_NOTIFIED", function () {
    let calls = 0;
    const f = new Future(() => calls++);
    assert.equal(f.cancel(), true);
    assert.equal(f.cancel(), true);
    assert.equal(calls, 1);
    assert.equal(f.state, "CANCELLED_AND_NOTIFIED");
    assert.throws(() => f.setRunningOrNotifyCancel(), code("ERR_TSMPI_INTERNAL"));
  });

  it("a bad timeout rejects with ERR_TSMPI_ARG, also on a done future", async function () {
    const F = fixtures();
    await assert.rejects(F.PENDING.result(-1), code("ERR_TSMPI_ARG"));
    await assert.rejects(F.SUCCESSFUL.result(Number.NaN), code("ERR_TSMPI_ARG"));
    await assert.rejects(F.SUCCESSFUL.exception("1" as never), code("ERR_TSMPI_ARG"));
    assert.throws(() => F.PENDING.addDoneCallback(5 as never), code("ERR_TSMPI_ARG"));
  });

  it("setRunningOrNotifyCancel: false for a cancelled future (now notified), true for a pending one", function () {
    const c = createFuture("CANCELLED");
    assert.equal(c.setRunningOrNotifyCancel(), false);
    assert.equal(c.state, "CANCELLED_AND_NOTIFIED");
    const p = createFuture("PENDING");
    assert.equal(p.setRunningOrNotifyCancel(), true);
    assert.equal(p.running(), true);
  });
});

describe("asCompleted (test_as_completed.py, futures by hand)", function () {
  it("test_no_timeout: every future, done ones first", async function () {
    const F = fixtures();
    const f1 = createFuture<number>("RUNNING");
    const f2 = createFuture<number>("PENDING");
    later(30, () => f2.setResult(42));
    later(60, () => f1.setResult(42));
    const out: unknown[] = [];
    for await (const f of asCompleted<unknown>([F.CANCELLED_AND_NOTIFIED, F.EXCEPTION, F.SUCCESSFUL, f1, f2])) out.push(f);
    assert.deepEqual(new Set(out), new Set([F.CANCELLED_AND_NOTIFIED, F.EXCEPTION, F.SUCCESSFUL, f1, f2]));
    assert.deepEqual(out.slice(0, 3), [F.CANCELLED_AND_NOTIFIED, F.EXCEPTION, F.SUCCESSFUL]);
    assert.deepEqual(out.slice(3), [f2, f1], "in the order they finish");
  });

  it("test_future_times_out: timeout 0 and 0.1 s, the done ones and then ERR_TSMPI_TIMEOUT", async function () {
    for (const timeout of [0, 0.1]) {
      const F = fixtures();
      const already = new Set<unknown>([F.CANCELLED_AND_NOTIFIED, F.EXCEPTION, F.SUCCESSFUL]);
      const future = createFuture("RUNNING");
      const got = new Set<unknown>();
      await assert.rejects(async () => {
        for await (const f of asCompleted([...(already as Set<Future<unknown>>), future], { timeout })) got.add(f);
      }, code("ERR_TSMPI_TIMEOUT"));
      assert.deepEqual(got, already);
    }
  });

  it("test_duplicate_futures: any iterable, each future once", async function () {
    const f = createFuture<number>("PENDING");
    later(20, () => f.setResult(1));
    function* thrice() {
      for (let i = 0; i < 3; i++) yield f;
    }
    const out: unknown[] = [];
    for await (const x of asCompleted(thrice())) out.push(x);
    assert.equal(out.length, 1);
  });

  it("test_free_reference_yielded_future (without weakrefs): timeout 0, then each as it is set", async function () {
    const list: Future<unknown>[] = Array.from({ length: 8 }, () => new Future());
    list.push(createFuture("CANCELLED_AND_NOTIFIED"), createFuture("FINISHED", { result: 42 }));
    await assert.rejects(async () => {
      for await (const f of asCompleted(list, { timeout: 0 })) list.splice(list.indexOf(f as Future<unknown>), 1);
    }, code("ERR_TSMPI_TIMEOUT"));
    assert.equal(list.length, 8);
    list[0]!.setResult("test");
    for await (const f of asCompleted(list)) {
      list.splice(list.indexOf(f as Future<unknown>), 1);
      if (list.length > 0) list[0]!.setResult("test");
    }
    assert.equal(list.length, 0);
  });

  it("test_correct_timeout_exception_msg: how many are unfinished", async function () {
    const F = fixtures();
    await assert.rejects(
      async () => {
        for await (const _ of asCompleted([F.CANCELLED_AND_NOTIFIED, F.PENDING, F.RUNNING, F.SUCCESSFUL], { timeout: 0 })) {
        }
      },
      (e: unknown) => code("ERR_TSMPI_TIMEOUT")(e) && (e as Error).message === "2 (of 4) futures unfinished",
    );
  });

  it("a cancelled future not yet notified is not yielded until notified; a break stops listening", async function () {
    const c = createFuture("CANCELLED");
    later(30, () => c.setRunningOrNotifyCancel());
    const out: unknown[] = [];
    for await (const f of asCompleted([c])) out.push(f);
    assert.deepEqual(out, [c]);
    const p = new Future();
    const s = createFuture("FINISHED", { result: 1 });
    for await (const f of asCompleted([s, p])) {
      assert.equal(f, s);
      break;
    }
    p.setResult(2);
  });

  it("bad arguments reject with ERR_TSMPI_ARG", async function () {
    assert.throws(() => asCompleted(5 as never), code("ERR_TSMPI_ARG"));
    assert.throws(() => asCompleted([Promise.resolve(1)] as never), code("ERR_TSMPI_ARG"));
    assert.throws(() => asCompleted([], { timeout: -1 }), code("ERR_TSMPI_ARG"));
  });
});

describe("wait (test_wait.py, futures by hand)", function () {
  it("test_20369: duplicates count once", async function () {
    const f = createFuture<number>("PENDING");
    later(10, () => f.setResult(2));
    const { done, notDone } = await wait([f, f], { returnWhen: ALL_COMPLETED });
    assert.deepEqual(done, new Set([f]));
    assert.deepEqual(notDone, new Set());
  });

  it("test_first_completed: a CANCELLED (not notified) future is not done", async function () {
    const F = fixtures();
    const f1 = createFuture<unknown>("RUNNING");
    const f2 = createFuture<unknown>("RUNNING");
    later(20, () => f1.setResult(42));
    const { done, notDone } = await wait([F.CANCELLED, f1, f2], { returnWhen: FIRST_COMPLETED });
    assert.deepEqual(done, new Set([f1]));
    assert.deepEqual(notDone, new Set([F.CANCELLED, f2]));
  });

  it("test_first_completed_some_already_completed", async function () {
    const F = fixtures();
    const f1 = createFuture("RUNNING");
    const { done, notDone } = await wait([F.CANCELLED_AND_NOTIFIED, F.SUCCESSFUL, f1], { returnWhen: FIRST_COMPLETED });
    assert.deepEqual(done, new Set([F.CANCELLED_AND_NOTIFIED, F.SUCCESSFUL]));
    assert.deepEqual(notDone, new Set([f1]));
  });

  it("test_first_exception", async function () {
    const f1 = createFuture<unknown>("RUNNING");
    const f2 = createFuture<unknown>("RUNNING");
    const f3 = createFuture<unknown>("RUNNING");
    later(20, () => f1.setResult(42));
    later(60, () => f2.setException(new Error("this is an exception")));
    const { done, notDone } = await wait([f1, f2, f3], { returnWhen: FIRST_EXCEPTION });
    assert.deepEqual(done, new Set([f1, f2]));
    assert.deepEqual(notDone, new Set([f3]));
  });

  it("test_first_exception_some_already_complete", async function () {
    const F = fixtures();
    const f1 = createFuture<unknown>("RUNNING");
    const f2 = createFuture<unknown>("RUNNING");
    later(20, () => f1.setException(new RangeError("division by zero")));
    const { done, notDone } = await wait([F.SUCCESSFUL, F.CANCELLED, F.CANCELLED_AND_NOTIFIED, f1, f2], { returnWhen: FIRST_EXCEPTION });
    assert.deepEqual(done, new Set([F.SUCCESSFUL, F.CANCELLED_AND_NOTIFIED, f1]));
    assert.deepEqual(notDone, new Set([F.CANCELLED, f2]));
  });

  it("test_first_exception_one_already_failed", async function () {
    const F = fixtures();
    const f1 = createFuture("RUNNING");
    const { done, notDone } = await wait([F.EXCEPTION, f1], { returnWhen: FIRST_EXCEPTION });
    assert.deepEqual(done, new Set([F.EXCEPTION]));
    assert.deepEqual(notDone, new Set([f1]));
  });

  it("test_all_completed (the default)", async function () {
    const F = fixtures();
    const f1 = createFuture<unknown>("RUNNING");
    const f2 = createFuture<unknown>("PENDING");
    later(10, () => f1.setException(new RangeError()));
    later(30, () => f2.setResult(42));
    const all = [F.SUCCESSFUL, F.CANCELLED_AND_NOTIFIED, F.EXCEPTION, f1, f2];
    const { done, notDone } = await wait(all);
    assert.deepEqual(done, new Set(all));
    assert.deepEqual(notDone, new Set());
  });

  it("test_timeout", async function () {
    const F = fixtures();
    const future = createFuture("RUNNING");
    const { done, notDone } = await wait([F.CANCELLED_AND_NOTIFIED, F.EXCEPTION, F.SUCCESSFUL, future], {
      timeout: 0.05,
      returnWhen: ALL_COMPLETED,
    });
    assert.deepEqual(done, new Set([F.CANCELLED_AND_NOTIFIED, F.EXCEPTION, F.SUCCESSFUL]));
    assert.deepEqual(notDone, new Set([future]));
  });

  it("test_pending_calls_race (100 futures, set together)", async function () {
    const fs = Array.from({ length: 100 }, () => createFuture<number>("RUNNING"));
    later(10, () => fs.forEach((f, i) => f.setResult(i)));
    const { done, notDone } = await wait(fs, { returnWhen: ALL_COMPLETED });
    assert.equal(done.size, 100);
    assert.equal(notDone.size, 0);
  });

  it("bad arguments reject with ERR_TSMPI_ARG", async function () {
    await assert.rejects(wait([], { returnWhen: "SOMETIMES" as never }), code("ERR_TSMPI_ARG"));
    await assert.rejects(wait([], { timeout: Number.NaN }), code("ERR_TSMPI_ARG"));
    await assert.rejects(wait(null as never), code("ERR_TSMPI_ARG"));
  });
});

async function passed(r: JobResult, expectOk: number): Promise<void> {
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal ?? ""}\n${r.stdout}\n${r.stderr}`);
  const oks = r.stdout.split("\n").filter((l) => l.startsWith("ok "));
  assert.ok(oks.length >= expectOk, `only ${oks.length} checks passed:\n${r.stdout}\n${r.stderr}`);
  assert.deepEqual(await settledLeftovers(r.marker), [], "no process of the job may be left");
}

/** Checks in futures-future.ts. */
const CHECKS = 14;

describe("Future, wait, asCompleted and cancel with executors", function () {
  it("PoolExecutor, 2 spawned workers, and futures of a second PoolExecutor in one wait", async function () {
    const r = await runNode([fixture("futures-future.js"), "pool"], { timeoutMs: 120000, env: { TSMPI_FUTURES_MAX_WORKERS: "2" } });
    await passed(r, CHECKS);
  });

  it("PoolExecutor under tsmpirun -n 3 -m tsmpi/futures (the job's 2 workers, shared by two executors)", async function () {
    const r = await tsmpirun(["-n", "3", "-m", "tsmpi/futures", fixture("futures-future.js"), "pool"], { timeoutMs: 120000 });
    await passed(r, CHECKS);
  });

  it("CommExecutor on 3 ranks (2 workers)", async function () {
    const r = await tsmpirun(["-n", "3", fixture("futures-future.js"), "comm"], { timeoutMs: 120000 });
    await passed(r, CHECKS - 1);
  });
});
