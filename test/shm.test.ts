/**
 * The same-host shared-memory path (lib/transport/shm.ts, native/shm_channel.cc): order across
 * paths and size classes, full and wrapping rings, many ranks on few cores with polling on and
 * off, what the ranks say about their paths, the CPU a waiting rank uses, and that no segment
 * is left after any ending. The p2p and collectives suites run over this path by default and
 * again with it off (p2p.test.ts, collectives.test.ts).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import { waitPolicy, usableCores } from "../lib/transport/polling.js";
import { ringBytes } from "../lib/transport/shm.js";
import { TsmpiError } from "../lib/errors.js";
import { getBinding } from "../lib/native.js";
import path from "node:path";
import { checkJob, fixture, jsonLines, ROOT, runNode, settledLeftovers, tsmpirun, type JobResult } from "./helpers/launch.js";

const addon = getBinding() !== null;

function skipWithoutAddon(ctx: Mocha.Context): void {
  if (!addon) {
    console.log("      skipped: the native addon is not built here, so ranks of one host use ipc:// sockets");
    ctx.skip();
  }
}

async function okJob(r: JobResult): Promise<void> {
  assert.deepEqual(await settledLeftovers(r.marker), [], "no process of the job may be left");
  assert.equal(r.code, 0, `tsmpirun exited ${r.code} ${r.signal ?? ""}; stderr:\n${r.stderr.slice(-3000)}`);
}

/** Messages and bytes rank 0 of shm-order checked, as the fixture counts them. */
function expected(np: number, phases = 3): string {
  const sizes = [0, 1, 8, 100, 4032, 4040, 4041, 4096, 8192, 8193, 65536, 65537, 131072, 200_000, 1_100_000, 2_500_000];
  let bytes = 0;
  for (let src = 1; src < np; src++) for (let n = 0; n < phases * sizes.length * 2; n++) bytes += sizes[n % sizes.length]!;
  return `@@ok ${(np - 1) * phases * sizes.length * 2} ${bytes}`;
}

describe("shared memory: every size class arrives complete and in order per sender, with wildcard receives, between collectives", function () {
  this.timeout(200_000);
  const runs: [number, NodeJS.ProcessEnv, string][] = [
    [2, {}, "shared memory"],
    [3, {}, "shared memory"],
    [4, {}, "shared memory"],
    [3, { SHM_ORDER_MIXED: "1" }, "mixed paths: odd ranks without shared memory (ipc:// to them)"],
    [4, { SHM_ORDER_MIXED: "1" }, "mixed paths: odd ranks without shared memory (ipc:// to them)"],
    [3, { TSMPI_SHM_RING_BYTES: "4096" }, "4 KiB rings: every message larger than the ring streams through it, rings fill and wrap"],
    [4, { TSMPI_SHM_RING_BYTES: "8192", TSMPI_CMA: "0" }, "8 KiB rings and no single copy: large payloads stream through the rings"],
    [3, { TSMPI_SHM: "0" }, "TSMPI_SHM=0 (ipc:// sockets)"],
    [8, { TSMPI_SPIN_US: "50" }, "8 ranks on this machine's cores, polling forced on"],
    [8, { TSMPI_SPIN_US: "0" }, "8 ranks, polling off"],
    [10, {}, "10 ranks, default polling"],
  ];
  for (const [np, env, what] of runs) {
    it(`${np} ranks, ${what}`, async function () {
      if (env.TSMPI_SHM !== "0") skipWithoutAddon(this);
      const r = await tsmpirun(["-n", String(np), fixture("shm-order.js")], {
        timeoutMs: 180_000,
        env: { ...env, SHM_ORDER_PHASES: np >= 8 ? "1" : "3" },
      });
      await okJob(r);
      assert.equal(r.stdout.trim(), expected(np, np >= 8 ? 1 : 3));
    });
  }
});

describe("shared memory: a rank that finished before its peers connected to it", function () {
  this.timeout(120_000);
  it("its messages still arrive (examples/hello.js at 4 ranks, 10 jobs, polling off: rank 0 sends and exits at once)", async function () {
    skipWithoutAddon(this);
    // Regression: a receiver read only the rings of peers whose own inbox it could open, and a
    // peer that had already exited left its message unread; about one job in four hung.
    for (let i = 0; i < 10; i++) {
      const r = await tsmpirun(["-n", "4", path.join(ROOT, "dist", "examples", "hello.js")], {
        timeoutMs: 20_000,
        env: { TSMPI_SPIN_US: "0" },
      });
      await checkJob(r);
      assert.equal(r.stdout.split("\n").filter(Boolean).length, 4, r.stdout);
    }
  });
});

describe("shared memory: which path each peer uses, and how ranks wait", function () {
  this.timeout(60_000);
  const traces = (r: JobResult) =>
    [...r.stderr.matchAll(/^\{"tsmpi":"transport".*\}$/gm)].map(
      (m) =>
        JSON.parse(m[0]) as { rank: number; paths: string[]; wait: { mode: string; spinUs: number; ranksHere: number }; heapKept: boolean },
    );

  it("TSMPI_TRACE=transport: every same-host peer on shm, polling mode chosen from ranks and cores, malloc keeps freed memory", async function () {
    skipWithoutAddon(this);
    const r = await tsmpirun(["-n", "3", fixture("shm-idle.js"), "0"], { timeoutMs: 30_000, env: { TSMPI_TRACE: "transport" } });
    await okJob(r);
    const t = traces(r);
    assert.equal(t.length, 3, r.stderr);
    for (const { rank, paths, wait } of t) {
      assert.deepEqual(
        paths,
        [0, 1, 2].map((p) => (p === rank ? "self" : "shm")),
      );
      assert.deepEqual(wait, waitPolicy(3, {}, usableCores()) as unknown as typeof wait);
    }
    assert.deepEqual(
      t.map((x) => x.heapKept),
      [true, true, true],
    );
  });

  it("TSMPI_SHM=0: same-host peers on ipc://; TSMPI_KEEP_HEAP=0: malloc left alone", async function () {
    const r = await tsmpirun(["-n", "2", fixture("shm-idle.js"), "0"], {
      timeoutMs: 30_000,
      env: { TSMPI_TRACE: "transport", TSMPI_SHM: "0", TSMPI_KEEP_HEAP: "0" },
    });
    await okJob(r);
    const t = traces(r);
    assert.deepEqual(t.map((x) => x.paths).sort(), [
      ["ipc", "self"],
      ["self", "ipc"],
    ]);
    assert.deepEqual(
      t.map((x) => x.heapKept),
      [false, false],
    );
  });

  it("tsmpirun --info -n 2 names the path to each peer and the polling mode", async function () {
    skipWithoutAddon(this);
    const r = await tsmpirun(["--info", "-n", "2"], { timeoutMs: 30_000 });
    await okJob(r);
    assert.match(r.stdout, /rank 0 .*peers: 1 shm; waits: (spin|yield|sleep)/);
    assert.match(r.stdout, /rank 1 .*peers: 0 shm; waits: (spin|yield|sleep)/);
  });

  it("a rank blocked 3 s in recv uses under 0.1 s of CPU", async function () {
    const r = await tsmpirun(["-n", "2", fixture("shm-idle.js"), "3"], { timeoutMs: 30_000 });
    await okJob(r);
    const cpu = Number(/^@@cpu (\S+) wake up$/m.exec(r.stdout)?.[1]);
    assert.ok(cpu >= 0 && cpu < 0.1, `the waiting rank used ${cpu} s of CPU; stdout:\n${r.stdout}`);
  });
});

describe("shared memory: the wait policy (lib/transport/polling.ts)", function () {
  it("polls while every rank has a core, yields up to twice as many, sleeps beyond", function () {
    assert.deepEqual(waitPolicy(2, {}, 2), { mode: "spin", spinUs: 50, cores: 2, ranksHere: 2 });
    assert.deepEqual(waitPolicy(4, {}, 2), { mode: "yield", spinUs: 50, cores: 2, ranksHere: 4 });
    assert.deepEqual(waitPolicy(64, {}, 2), { mode: "sleep", spinUs: 0, cores: 2, ranksHere: 64 });
    assert.deepEqual(waitPolicy(64, { TSMPI_SPIN_US: "20" }, 2), { mode: "yield", spinUs: 20, cores: 2, ranksHere: 64 });
    assert.deepEqual(waitPolicy(2, { TSMPI_SPIN_US: "0" }, 2), { mode: "sleep", spinUs: 0, cores: 2, ranksHere: 2 });
  });
  it("rejects a bad TSMPI_SPIN_US or TSMPI_SHM_RING_BYTES with a TsmpiError naming it", function () {
    for (const bad of ["-1", "1.5", "fast"]) {
      assert.throws(
        () => waitPolicy(2, { TSMPI_SPIN_US: bad }, 2),
        (e: unknown) =>
          e instanceof TsmpiError && e.code === "ERR_TSMPI_ARG" && e.message.includes("TSMPI_SPIN_US") && e.message.includes(bad),
      );
    }
    for (const bad of ["1000", "4097", "x"]) {
      assert.throws(
        () => ringBytes(2, { TSMPI_SHM_RING_BYTES: bad }),
        (e: unknown) => e instanceof TsmpiError && e.code === "ERR_TSMPI_ARG" && e.message.includes("TSMPI_SHM_RING_BYTES"),
      );
    }
    assert.equal(ringBytes(2, {}), 1 << 20);
    assert.equal(ringBytes(1000, {}), 64 * 1024);
  });
});

describe("shared memory: a ring's bytes are checked, never trusted (issue 17, point 2)", function () {
  this.timeout(60_000);
  // test/fixtures/shm-garbage.ts writes each corruption into a channel's memfd through /proc/self/fd,
  // as any process of the same user can. Before the checks, tail-far and ring-wrap died of
  // SIGSEGV, truncate of SIGBUS, and flags, orphan, endless and head-ahead were swallowed.
  const corruptions: [string, string, RegExp][] = [
    [
      "tail-far",
      "the ring's write position far ahead, a 2 GiB fragment",
      /rank 1 writes .*write position 8589934\d+ is not within the 4096 bytes/,
    ],
    ["fragment-len", "a fragment longer than what was written", /rank 1 writes .*a fragment of 4000 bytes where 8 were written/],
    ["flags", "unknown fragment flags", /rank 1 writes .*fragment flags 131/],
    ["orphan", "a last fragment without a first", /rank 1 writes .*continues no message/],
    ["record", "a record whose frame lengths lie", /rank 1 writes .*16 bytes says its 1 frames .* take 108/],
    ["endless", "a message that never ends, past the bound", /rank 1 writes .*a message longer than 65536 bytes/],
    [
      "ring-wrap",
      "an inbox header whose slots x ring size wraps in 64 bits (connect)",
      /inbox of rank 0 \(pid \d+\) is corrupt: ring size 9223372036854779904/,
    ],
    [
      "head-ahead",
      "a read position ahead of what the sender wrote (send)",
      /inbox of rank 0 is corrupt: its ring's read position \d+ is not within/,
    ],
  ];
  for (const [name, what, message] of corruptions) {
    it(`${what}: ERR_TSMPI_TRANSPORT naming the peer, no signal`, async function () {
      skipWithoutAddon(this);
      const r = await runNode([fixture("shm-garbage.js"), name], { timeoutMs: 30_000 });
      await checkJob(r);
      const [seen] = jsonLines(r.stdout);
      assert.deepEqual(
        { outcome: seen?.outcome, code: seen?.code },
        { outcome: "error", code: "ERR_TSMPI_TRANSPORT" },
        r.stdout + r.stderr,
      );
      assert.match(seen.message, message);
    });
  }
  it("truncating the inbox is refused (sealed memfd), and the channel goes on working", async function () {
    skipWithoutAddon(this);
    const r = await runNode([fixture("shm-garbage.js"), "truncate"], { timeoutMs: 30_000 });
    await checkJob(r);
    const [seen] = jsonLines(r.stdout);
    assert.deepEqual({ outcome: seen?.outcome, code: seen?.code }, { outcome: "error", code: "EPERM" }, r.stdout + r.stderr);
    assert.match(seen.message, /still works/);
  });
});

describe("shared memory: nothing of a job is left after any ending", function () {
  this.timeout(60_000);
  // What can outlive a job: its processes, its job directory (sockets) in the temporary
  // directory, and its inboxes: memfds, which live on while any process maps or holds one (they
  // are never named in /dev/shm, so looking there proves nothing). The ranks of
  // test/fixtures/shm-ending.ts say which directory and which inboxes (inode numbers) were
  // theirs, once all were connected; afterwards none may exist.
  interface Traces {
    rank: number;
    pid: number;
    jobDir: string;
    dirEntries: string[];
    inboxes: number[];
  }
  let n = 0;
  const tracesFile = () => path.join(os.tmpdir(), `shm-ending-${process.pid}-${n++}.jsonl`);
  const read = (file: string): Traces[] =>
    fs.existsSync(file)
      ? fs
          .readFileSync(file, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Traces)
      : [];
  /** Processes (of this user: the others' are unreadable) that map or hold one of `inodes` as an inbox. */
  const holders = (inodes: Set<number>): string[] => {
    const found: string[] = [];
    for (const pid of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
      try {
        for (const l of fs.readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
          if (l.includes("memfd:tsmpi-inbox") && inodes.has(Number(l.split(/\s+/)[4]))) found.push(`pid ${pid} maps ${l}`);
        }
        for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
          const link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
          if (link.includes("memfd:tsmpi-inbox") && inodes.has(fs.statSync(`/proc/${pid}/fd/${fd}`).ino))
            found.push(`pid ${pid} holds fd ${fd}`);
        }
      } catch {
        /* exited, or not ours */
      }
    }
    return found;
  };
  /** The traces of a 3-rank job: each rank mapped the same 3 inboxes and saw the job directory with its sockets. */
  const checkTraces = (t: Traces[]): { dir: string; inodes: Set<number> } => {
    assert.equal(t.length, 3, `every rank reported: ${JSON.stringify(t)}`);
    const inodes = new Set(t.flatMap((x) => x.inboxes));
    assert.equal(inodes.size, 3, `3 inboxes: ${JSON.stringify(t)}`);
    for (const x of t) assert.deepEqual(x.inboxes, [...inodes].sort(), `rank ${x.rank} maps every inbox`);
    const dirs = new Set(t.map((x) => x.jobDir));
    assert.equal(dirs.size, 1, "one job directory");
    const dir = [...dirs][0]!;
    assert.ok(dir.startsWith(os.tmpdir()), dir);
    assert.ok(
      t[0]!.dirEntries.some((e) => e.endsWith(".sock")),
      `the job directory held the ranks' sockets: ${t[0]!.dirEntries.join(", ")}`,
    );
    return { dir, inodes };
  };
  const nothingLeft = async (marker: string, t: Traces[], ms = 3000): Promise<void> => {
    const { dir, inodes } = checkTraces(t);
    assert.deepEqual(await settledLeftovers(marker, ms), [], "no process of the job may be left");
    assert.equal(fs.existsSync(dir), false, `the job directory ${dir} was removed`);
    assert.deepEqual(holders(inodes), [], "no process maps or holds the job's inboxes");
  };

  for (const [how, mode, code] of [
    ["the job ends normally", "normal", 0],
    ["a rank throws", "throw", 1],
    ["a rank is killed with SIGKILL", "signal", 137],
  ] as const) {
    it(`${how}: no process, job directory or inbox is left`, async function () {
      skipWithoutAddon(this);
      const file = tracesFile();
      try {
        const r = await tsmpirun(["-n", "3", fixture("shm-ending.js"), mode], { timeoutMs: 30_000, env: { SHM_ENDING_TRACES: file } });
        assert.equal(r.timedOut, false, r.stderr);
        assert.equal(r.code, code, r.stderr);
        await nothingLeft(r.marker, read(file));
      } finally {
        fs.rmSync(file, { force: true });
      }
    });
  }

  it("tsmpirun is killed with SIGKILL: the ranks exit, remove the job directory, and nothing is left", async function () {
    skipWithoutAddon(this);
    const file = tracesFile();
    try {
      let launcher = 0;
      let marker = "";
      const job = tsmpirun(["-n", "3", fixture("shm-ending.js"), "hang"], {
        timeoutMs: 30_000,
        env: { SHM_ENDING_TRACES: file },
        onStart: (p, m) => {
          launcher = p;
          marker = m;
        },
      });
      const end = Date.now() + 20_000;
      while (read(file).length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      checkTraces(read(file)); // every rank joined and connected: now waiting in recv
      process.kill(launcher, "SIGKILL");
      await job;
      await nothingLeft(marker, read(file), 10_000);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
