/**
 * In-process tests of the environment inquiries (issue 20 item 6): mpi4py 4.x's test_environ.py
 * translated, plus what tsmpi decides for each (the MPI version, the library string, the thread
 * level). `Is_initialized`/`Is_finalized` need a rank: test/suites/small-calls.ts.
 *
 * Left out of test_environ.py: `Get_hw_resource_info` (MPI 4.1, not implemented), `Pcontrol`,
 * and `TestWorldAttrs` (attributes: not implemented).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import { Worker } from "node:worker_threads";
import { SUBVERSION, THREAD_FUNNELED, THREAD_MULTIPLE, THREAD_SERIALIZED, THREAD_SINGLE, VERSION } from "../lib/constants.js";
import { Get_library_version, Get_processor_name, Get_version, Is_thread_main, Query_thread, Wtick, Wtime } from "../lib/environ.js";

describe("environment inquiries (issue 20 item 6)", function () {
  it("testGetVersion: [major, minor], integers, major >= 1; tsmpi follows MPI 4.0", function () {
    const version = Get_version();
    assert.equal(version.length, 2);
    const [major, minor] = version;
    assert.ok(Number.isInteger(major) && major >= 1);
    assert.ok(Number.isInteger(minor) && minor >= 0);
    assert.deepEqual(version, [VERSION, SUBVERSION]);
    assert.deepEqual(version, [4, 0]);
  });

  it("testGetLibraryVersion: a non-empty string naming tsmpi's version and Node's", function () {
    const version = Get_library_version();
    assert.equal(typeof version, "string");
    assert.ok(version.length > 0);
    const pkg = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    assert.ok(version.startsWith(`tsmpi ${pkg.version} `), version);
    assert.ok(version.includes(`Node.js ${process.version}`), version);
    assert.ok(version.includes("MPI 4.0"), version);
  });

  it("testGetProcessorName", function () {
    const name = Get_processor_name();
    assert.equal(typeof name, "string");
    assert.equal(name, os.hostname());
  });

  it("testWTime, testWTick", function () {
    const time1 = Wtime();
    assert.equal(typeof time1, "number");
    const time2 = Wtime();
    assert.equal(typeof time2, "number");
    assert.ok(time2 >= time1);
    const tick = Wtick();
    assert.equal(typeof tick, "number");
    assert.ok(tick > 0);
  });

  it("Query_thread is THREAD_FUNNELED; the levels are ordered as MPI's", function () {
    assert.ok(THREAD_SINGLE < THREAD_FUNNELED && THREAD_FUNNELED < THREAD_SERIALIZED && THREAD_SERIALIZED < THREAD_MULTIPLE);
    assert.equal(Query_thread(), THREAD_FUNNELED);
  });

  it("Is_thread_main: true on the main thread, false in a worker thread", async function () {
    assert.equal(Is_thread_main(), true);
    // the compiled module (npm run build), loaded by a worker that has no TypeScript loader
    const built = new URL("../dist/lib/environ.js", import.meta.url);
    if (!fs.existsSync(built)) this.skip();
    const worker = new Worker(
      `import(${JSON.stringify(built.href)}).then((m) => require("node:worker_threads").parentPort.postMessage(m.Is_thread_main()))`,
      {
        eval: true,
      },
    );
    const answer = await new Promise((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    assert.equal(answer, false);
  });
});
