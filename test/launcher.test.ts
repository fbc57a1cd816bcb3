/**
 * tsmpirun as a user meets it: what ranks see, output forwarding, options, programs of every
 * kind, and the failure rules (a failed rank ends the job, no process is left, exit codes).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { TsmpiError } from "../lib/errors.js";
import { RendezvousClient } from "../lib/job/rendezvous-client.js";
import { checkJob, fixture, jsonLines, leftovers, ROOT, runNode, settledLeftovers, tsmpirun } from "./helpers/launch.js";

describe("tsmpirun: what ranks see", function () {
  for (const np of [1, 2, 3, 4]) {
    it(`-n ${np}: TSMPI_RANK/SIZE/LOCAL_RANK/LOCAL_SIZE, args passed through, working directory`, async function () {
      const r = await tsmpirun(["-n", String(np), fixture("env.js"), "a b", "--flag", "-x"]);
      await checkJob(r, 0);
      const seen = jsonLines(r.stdout).sort((a, b) => a.rank - b.rank);
      assert.equal(seen.length, np);
      seen.forEach((s, i) => {
        assert.equal(s.rank, i);
        assert.equal(s.size, np);
        assert.equal(s.env.TSMPI_RANK, String(i));
        assert.equal(s.env.TSMPI_SIZE, String(np));
        assert.equal(s.env.TSMPI_LOCAL_RANK, String(i));
        assert.equal(s.env.TSMPI_LOCAL_SIZE, String(np));
        assert.deepEqual(s.local, { rank: i, size: np });
        assert.deepEqual(s.argv, ["a b", "--flag", "-x"]);
        assert.equal(s.cwd, ROOT);
        assert.equal(s.host, os.hostname());
      });
    });
  }

  it("-np works as -n, and no -n means one rank", async function () {
    const a = await tsmpirun(["-np", "2", fixture("env.js")]);
    await checkJob(a);
    assert.equal(jsonLines(a.stdout).length, 2);
    const b = await tsmpirun([fixture("env.js")]);
    await checkJob(b);
    assert.equal(jsonLines(b.stdout).length, 1);
  });

  it("-x VAR=value and -x VAR export variables; --wdir sets the ranks' directory", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-wdir-"));
    try {
      const r = await tsmpirun(["-n", "2", "-x", "TEST_A=1=2", "-x", "TEST_B", "--wdir", dir, fixture("env.js")], {
        env: { TEST_B: "from env" },
      });
      await checkJob(r, 0);
      for (const s of jsonLines(r.stdout)) {
        assert.equal(s.env.TEST_A, "1=2");
        assert.equal(s.env.TEST_B, "from env");
        assert.equal(s.cwd, fs.realpathSync(dir));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("tsmpirun: output", function () {
  it("examples/hello prints one line per rank, in rank order", async function () {
    const r = await tsmpirun(["-n", "4", path.join(ROOT, "dist", "examples", "hello.js")]);
    await checkJob(r, 0);
    const host = os.hostname();
    assert.equal(r.stdout, [0, 1, 2, 3].map((i) => `Hello, World! I am process ${i} of 4 on ${host}.\n`).join(""));
  });

  it("forwards whole lines only: concurrent long lines of 4 ranks never mix, on stdout or stderr", async function () {
    const r = await tsmpirun(["-n", "4", fixture("lines.js")]);
    await checkJob(r, 0);
    const out = r.stdout.split("\n");
    const tails = out.filter((l) => l.startsWith("tail-without-newline-"));
    assert.equal(tails.length, 4, "a last line without newline is still forwarded whole");
    const full = out.filter((l) => l && !l.startsWith("tail-"));
    assert.equal(full.length, 200);
    for (const l of full) assert.match(l, /^(A{20000}|B{20000}|C{20000}|D{20000})$/);
    const err = r.stderr.split("\n").filter(Boolean);
    assert.equal(err.length, 200);
    for (const l of err) assert.match(l, /^(a{5000}|b{5000}|c{5000}|d{5000})$/);
  });

  it("--tag-output prefixes every line with [rank]", async function () {
    const r = await tsmpirun(["-n", "3", "--tag-output", fixture("env.js")]);
    await checkJob(r, 0);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 3);
    for (const l of lines) {
      const m = /^\[(\d)\] (\{.*\})$/.exec(l);
      assert.ok(m, l);
      assert.equal(JSON.parse(m[2]!).rank, Number(m[1]));
    }
  });

  it("--output-filename writes each rank's output to DIR/1/rank.N/stdout", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-out-"));
    try {
      const r = await tsmpirun(["-n", "2", "--output-filename", dir, fixture("env.js")]);
      await checkJob(r, 0);
      assert.equal(r.stdout, "");
      for (const rank of [0, 1])
        assert.equal(JSON.parse(fs.readFileSync(path.join(dir, "1", `rank.${rank}`, "stdout"), "utf8")).rank, rank);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--output-filename: a file that cannot be written (ENOSPC) is said once on stderr; the job still ends, the other files are whole (issue 17)", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-out-"));
    try {
      // rank 0's stdout file is /dev/full: every write fails with ENOSPC.
      fs.mkdirSync(path.join(dir, "1", "rank.0"), { recursive: true });
      fs.symlinkSync("/dev/full", path.join(dir, "1", "rank.0", "stdout"));
      const r = await tsmpirun(["-n", "2", "--output-filename", dir, fixture("lines.js")]);
      await checkJob(r, 0);
      const warnings = r.stderr.split("\n").filter((l) => l.startsWith("tsmpirun: cannot write"));
      assert.equal(warnings.length, 1, r.stderr);
      assert.match(warnings[0]!, /cannot write rank 0's stdout to .*rank\.0\/stdout: ENOSPC/);
      const other = fs.readFileSync(path.join(dir, "1", "rank.1", "stdout"), "utf8").split("\n");
      assert.equal(other.filter((l) => l === "B".repeat(20000)).length, 50);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("progress bars that never end their line: tsmpirun holds a bounded amount of them, and passes everything on (issue 17)", async function () {
    // 4 ranks x 32 MiB without a newline: before the bound, tsmpirun held all 128 MiB.
    let pid = 0;
    let peak = 0;
    const job = tsmpirun(["-n", "4", fixture("progress.js"), "32"], { timeoutMs: 60_000, onStart: (p) => (pid = p) });
    const poll = setInterval(() => {
      try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
        peak = Math.max(peak, kb * 1024);
      } catch {
        /* ended */
      }
    }, 20);
    const r = await job;
    clearInterval(poll);
    await checkJob(r, 0);
    assert.equal(r.stdout.length, 4 * (32 * 2 ** 20 + 1), "every byte came through");
    for (let rank = 0; rank < 4; rank++) assert.ok(r.stdout.includes(`\rrank ${rank} progress`));
    console.log(`      tsmpirun's peak resident memory: ${(peak / 2 ** 20).toFixed(0)} MiB`);
    assert.ok(peak < 120 * 2 ** 20, `tsmpirun's resident memory reached ${(peak / 2 ** 20).toFixed(0)} MiB`);
  });

  it("stdin goes to rank 0; the other ranks read an empty stdin", async function () {
    const r = await tsmpirun(["-n", "3", fixture("stdin.js")], { input: "hello through stdin\n" });
    await checkJob(r, 0);
    assert.equal(r.stdout, "rank 0 read: HELLO THROUGH STDIN\n");
  });
});

describe("tsmpirun: programs", function () {
  const ways: [string, NodeJS.ProcessEnv][] = [
    ["compiled once by the launcher", {}],
    ["through tsx from tsmpi's own install (TSMPI_TSX=1)", { TSMPI_TSX: "1" }],
  ];
  for (const [how, env] of ways) {
    it(`runs a .ts script ${how}`, async function () {
      const r = await tsmpirun(["-n", "2", path.join(ROOT, "test", "fixtures", "env.ts"), "ts"], {
        env: { ...env, TSMPI_TRACE: "startup" },
      });
      await checkJob(r, 0);
      assert.deepEqual(
        jsonLines(r.stdout).map((s) => s.argv),
        [["ts"], ["ts"]],
      );
      assert.equal(r.stderr.includes('"launcher":"typescript"'), !env.TSMPI_TSX, r.stderr);
    });
  }

  it("runs a .mjs script and any executable on PATH", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-mjs-"));
    try {
      fs.writeFileSync(
        path.join(dir, "p.mjs"),
        `import { COMM_WORLD } from ${JSON.stringify(path.join(ROOT, "dist", "lib", "index.js"))};\nconsole.log("mjs", COMM_WORLD.rank);\n`,
      );
      const r = await tsmpirun(["-n", "2", path.join(dir, "p.mjs")]);
      await checkJob(r, 0);
      assert.deepEqual(r.stdout.trim().split("\n").sort(), ["mjs 0", "mjs 1"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const e = await tsmpirun(["-n", "3", "printenv", "TSMPI_RANK"]);
    await checkJob(e, 0);
    assert.deepEqual(e.stdout.trim().split("\n").sort(), ["0", "1", "2"]);
  });

  it("-m runs a module: tsmpi/bench helloworld", async function () {
    const r = await tsmpirun(["-n", "3", "-m", "tsmpi/bench", "helloworld"]);
    await checkJob(r, 0);
    assert.equal(r.stdout.trim().split("\n").length, 3);
    assert.match(r.stdout, /^Hello, World! I am process 0 of 3 on /);
  });

  it("tsmpi/bench: --help prints the usage (exit 0); a bad option, value or world size ends every rank with 2, said once", async function () {
    const help = await tsmpirun(["-n", "2", "-m", "tsmpi/bench", "pingpong", "--help"]);
    await checkJob(help, 0);
    assert.match(help.stdout, /^usage: tsmpirun -n N -m tsmpi\/bench <command>/);
    assert.equal(help.stdout.match(/usage:/g)!.length, 1);
    const bad: [string[], RegExp][] = [
      [["-n", "2", "-m", "tsmpi/bench", "pingpong", "--bogus"], /tsmpi bench pingpong: Unknown option '--bogus'/],
      [["-n", "2", "-m", "tsmpi/bench", "ringtest", "-l", "x"], /tsmpi bench ringtest: --loop must be a non-negative integer, got "x"/],
      [["-n", "2", "-m", "tsmpi/bench", "bcast", "--sizes", "8,-1"], /--sizes must be a comma-separated list/],
      [["-n", "1", "-m", "tsmpi/bench", "pingpong"], /pingpong needs at least 2 ranks, got 1/],
    ];
    for (const [argv, message] of bad) {
      const r = await tsmpirun(argv);
      await checkJob(r, 2);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.match(/usage:/g)!.length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, / {4}at /, "no stack trace");
    }
  });

  it("-c runs code as python -c: on every rank, with its arguments after argv[1] = -c, imports resolved from the working directory", async function () {
    const code =
      'import { COMM_WORLD as w } from "tsmpi"; const s = await w.allreduce(w.rank + 1); console.log(JSON.stringify({ rank: w.rank, s, argv: process.argv.slice(1) }));';
    const r = await tsmpirun(["-n", "3", "-c", code, "a b", "--flag"], { cwd: ROOT });
    await checkJob(r, 0);
    const seen = jsonLines(r.stdout).sort((a, b) => a.rank - b.rank);
    assert.deepEqual(
      seen,
      [0, 1, 2].map((rank) => ({ rank, s: 6, argv: ["-c", "a b", "--flag"] })),
    );
  });

  it("a script named - is read from stdin (python -), and its ranks' stdin is then empty", async function () {
    const program =
      'import { COMM_WORLD as w } from "tsmpi";\nlet got = "";\nfor await (const c of process.stdin) got += c;\nconsole.log(JSON.stringify({ rank: w.rank, size: w.size, argv: process.argv.slice(1), got }));\n';
    const r = await tsmpirun(["-n", "2", "-", "x"], { cwd: ROOT, input: program });
    await checkJob(r, 0);
    const seen = jsonLines(r.stdout).sort((a, b) => a.rank - b.rank);
    assert.deepEqual(
      seen,
      [0, 1].map((rank) => ({ rank, size: 2, argv: ["-", "x"], got: "" })),
    );
  });

  it("-c: a failing program ends the job with its exit code; no code, or -c with -m, is a usage error", async function () {
    const r = await tsmpirun(["-n", "2", "-c", 'throw new Error("boom from -c")'], { cwd: ROOT });
    await checkJob(r, 1);
    assert.match(r.stderr, /boom from -c/);
    for (const [argv, what] of [
      [["-n", "1", "-c", " "], /-c needs the program's code/],
      [["-n", "1", "-m", "tsmpi/bench", "-c", "1"], /-m and -c both name the program: give one/],
    ] as [string[], RegExp][]) {
      const bad = await tsmpirun(argv);
      await checkJob(bad, 2);
      assert.match(bad.stderr, what);
    }
  });

  it("a script ends by itself when its work is done, also with main() not awaited and timers pending", async function () {
    const r = await tsmpirun(["-n", "3", fixture("finish.js")], { timeoutMs: 20000 });
    await checkJob(r, 0);
    const lines = r.stdout.trim().split("\n").sort();
    assert.deepEqual(lines, [
      "rank 0: late 2; allreduce after a timer = 3",
      "rank 1: late 0; allreduce after a timer = 3",
      "rank 2: late 1; allreduce after a timer = 3",
    ]);
  });
});

describe("tsmpirun: a failed rank ends the job", function () {
  const cases: [string, number, RegExp][] = [
    ["throw", 1, /rank 1 .*exited with code 1.*boom from the fixture/],
    ["reject", 1, /rank 1 .*exited with code 1.*unhandled rejection.*RangeError: rejected in the fixture/],
    ["exit", 7, /rank 1 .*exited with code 7/],
    ["signal", 137, /rank 1 .*killed by signal SIGKILL/],
    ["abort", 5, /rank 1 called abort\(5\)/],
    ["noimport", 1, /rank 1 exited without joining the job/],
  ];
  for (const np of [2, 4]) {
    for (const [mode, code, message] of cases) {
      it(`${mode} in rank 1 of ${np}: exit code ${code}, the rank and cause named, no process left`, async function () {
        const r = await tsmpirun(["-n", String(np), fixture("fail.js"), mode], {
          timeoutMs: 20000,
          env: { TSMPI_RENDEZVOUS_TIMEOUT: "600" },
        });
        // The rendezvous timeout is far away: a job that waited for it would hit the harness's bound.
        await checkJob(r, code);
        assert.match(r.stderr, message);
      });
    }
  }

  it("a failure in rank 0 ends the job too", async function () {
    const r = await tsmpirun(["-n", "3", fixture("fail.js"), "exit", "0"], { timeoutMs: 20000 });
    await checkJob(r, 7);
    assert.match(r.stderr, /rank 0 .*exited with code 7/);
  });

  for (const mode of ["throw", "exit"]) {
    it(`${mode} in the only rank of a 1-rank job: the job fails with the rank's code (it used to exit 0)`, async function () {
      const r = await tsmpirun(["-n", "1", fixture("fail.js"), mode, "0"], { timeoutMs: 20000 });
      await checkJob(r, mode === "exit" ? 7 : 1);
      assert.match(r.stderr, /rank 0 .*exited with code/);
    });
  }

  it("--timeout ends a hung job with exit code 124 and a message; MPIEXEC_TIMEOUT does the same", async function () {
    const r = await tsmpirun(["-n", "3", "--timeout", "1", fixture("fail.js"), "hang"], { timeoutMs: 20000 });
    await checkJob(r, 124);
    assert.match(r.stderr, /did not finish within 1 s/);
    const e = await tsmpirun(["-n", "2", fixture("fail.js"), "hang"], { timeoutMs: 20000, env: { MPIEXEC_TIMEOUT: "1" } });
    await checkJob(e, 124);
  });

  it("a reader of tsmpirun's output that stalls freezes neither --timeout nor stopping the ranks", async function () {
    // Nothing reads tsmpirun's stdout until it says the timeout struck: the ranks' 64 MiB each
    // fill the pipe long before that.
    const r = await tsmpirun(["-n", "2", "--timeout", "3", fixture("chatty.js"), "64"], {
      timeoutMs: 40000,
      holdStdoutUntil: /did not finish within 3 s/,
    });
    await checkJob(r, 124);
    assert.match(r.stderr, /did not finish within 3 s/);
    const lines = r.stdout.split("\n").filter(Boolean);
    assert.ok(lines.length > 0, "some output came through once the reader resumed");
    for (const rank of ["r0", "r1"]) {
      // Each rank's lines in order and whole, but for the last: the rank was stopped mid-line.
      const mine = lines.filter((l) => l.startsWith(`${rank} `));
      mine.slice(0, -1).forEach((l, i) => assert.equal(l, `${rank} ${String(i).padStart(8, "0")} ${"x".repeat(1000)}`));
    }
  });

  it("a reader that never reads again: after --timeout, tsmpirun exits within seconds anyway, and says it dropped output (issue 17)", async function () {
    // The harness never reads tsmpirun's stdout (the pattern never matches): before the fix
    // tsmpirun waited forever to write the ranks' last output, and the harness killed it.
    const r = await tsmpirun(["-n", "2", "--timeout", "3", fixture("chatty.js"), "64"], { timeoutMs: 30_000, holdStdoutUntil: /(?!)/ });
    await checkJob(r, 124);
    assert.match(r.stderr, /did not finish within 3 s/);
    assert.match(r.stderr, /tsmpirun: dropped \d+ bytes of the ranks' output that its reader did not take/);
    assert.ok(r.ms < 3000 + 15_000, `tsmpirun ended ${r.ms} ms after its start`);
  });

  it("a reader that closes tsmpirun's output (| head) ends the job as SIGPIPE would: exit 141, no process left", async function () {
    // The ranks write 64 MiB each and then wait forever: only the closed pipe can end the job.
    const r = await tsmpirun(["-n", "2", fixture("chatty.js"), "64"], { timeoutMs: 30000, closeStdoutAfter: 10_000 });
    await checkJob(r, 141);
    assert.match(r.stderr, /standard output was closed by its reader \(EPIPE\); stopping the job/);
  });

  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`${signal} to tsmpirun stops every rank (exit ${code})`, async function () {
      let pid = 0;
      const job = tsmpirun(["-n", "3", fixture("fail.js"), "hang"], { timeoutMs: 20000, onStart: (p) => (pid = p) });
      const marker = await waitForRanks(() => pid, 3);
      process.kill(pid, signal);
      const r = await job;
      assert.equal(r.code, code);
      assert.match(r.stderr, new RegExp(`received ${signal}`));
      assert.deepEqual(await settledLeftovers(marker), []);
    });
  }

  it("ranks exit by themselves when tsmpirun is killed with SIGKILL", async function () {
    let pid = 0;
    const job = tsmpirun(["-n", "3", fixture("fail.js"), "hang"], { timeoutMs: 20000, onStart: (p) => (pid = p) });
    const marker = await waitForRanks(() => pid, 3);
    process.kill(pid, "SIGKILL");
    await job;
    assert.deepEqual(await settledLeftovers(marker, 5000), [], "ranks must notice their launcher is gone");
  });

  it("a rank whose coordinator goes away while the rank is still starting exits at once, naming the cause", async function () {
    // A coordinator that accepts the connection and drops it: the rank is still binding its
    // sockets then, before it says hello (as when tsmpirun is killed while ranks start).
    const server = net.createServer((s) => s.destroy());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-coord-"));
    const sock = path.join(dir, "coord.sock");
    await new Promise<void>((res) => server.listen(sock, res));
    try {
      const env = {
        TSMPI_COORD: `unix:${sock}`,
        TSMPI_RANK: "1",
        TSMPI_SIZE: "2",
        TSMPI_LOCAL_RANK: "1",
        TSMPI_LOCAL_SIZE: "2",
        TSMPI_JOB_DIR: dir,
        TSMPI_RENDEZVOUS_TIMEOUT: "60",
      };
      const r = await runNode([fixture("fail.js"), "hang"], { env, timeoutMs: 20_000 });
      await checkJob(r, 1);
      // Not the rendezvous timeout (60 s, beyond the harness's 20 s bound): the closed connection.
      assert.match(r.stderr, /coordinator closed the connection/);
      // The same moment inside the rank, made certain: the connection is gone before hello.
      const client = await RendezvousClient.connect(`unix:${sock}`, Date.now() + 5000, { abort: () => {}, lost: () => {} }, false);
      await new Promise((res) => setTimeout(res, 200));
      // Failing at its deadline would say "not all 2 ranks joined", not that the connection closed.
      await assert.rejects(
        client.join({ t: "hello", key: "", rank: 1, size: 2, pid: process.pid, host: "h", addrs: [], cma: "" }, Date.now() + 30_000),
        (e: TsmpiError) => e.code === "ERR_TSMPI_RENDEZVOUS" && /coordinator closed the connection/.test(e.message),
      );
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Waits until `n` rank processes of the job whose launcher is `pid` are running; returns the
 * job's marker (read from the launcher, so another job on this machine is never taken for it).
 */
async function waitForRanks(pid: () => number, n: number): Promise<string> {
  const end = Date.now() + 10000;
  while (Date.now() < end) {
    try {
      const mark = fs
        .readFileSync(`/proc/${pid()}/environ`, "latin1")
        .split("\0")
        .find((e) => e.startsWith("TSMPI_TEST_MARK="));
      if (mark && leftovers(mark).filter((p) => isRank(p)).length >= n) {
        await new Promise((r) => setTimeout(r, 300)); // let them join and block
        return mark;
      }
    } catch {
      /* not started yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("ranks did not start");
}

function isRank(pid: number): boolean {
  try {
    return fs
      .readFileSync(`/proc/${pid}/environ`, "latin1")
      .split("\0")
      .some((e) => e.startsWith("TSMPI_RANK="));
  } catch {
    return false;
  }
}

describe("tsmpirun: bad arguments", function () {
  for (const [args, what] of [
    [["-n", "0", "x.js"], /-n must be a positive integer, got "0"/],
    [["-n", "two", "x.js"], /-n must be a positive integer/],
    [["-n", "2", "missing-script.ts"], /script not found: missing-script.ts/],
    [["-n", "2", "--no-such-flag", "x.js"], /Unknown argument: no-such-flag/],
    [["-n", "2"], /no program given/],
    [[], /no program given/],
    [["--timeout", "-3", "x.js"], /--timeout must be a positive number/],
    [["-x", "1BAD", "x.js"], /-x needs VAR or VAR=value/],
  ] as [string[], RegExp][]) {
    it(`${args.join(" ")}: one line of help on stderr, exit code 2`, async function () {
      const r = await tsmpirun(args);
      await checkJob(r, 2);
      assert.equal(r.stdout, "");
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, what);
      assert.match(lines[0]!, /usage: tsmpirun/);
    });
  }

  for (const [name, value, what] of [
    ["TSMPI_SPIN_US", "x", /TSMPI_SPIN_US must be an integer in \[0, 1000000\] \(microseconds\), got "x"/],
    ["TSMPI_EAGER_LIMIT", "abc", /TSMPI_EAGER_LIMIT must be an integer in \[0, 1073741824\], got "abc"/],
    ["TSMPI_SHM_RING_BYTES", "5", /TSMPI_SHM_RING_BYTES must be a multiple of 4096/],
    ["TSMPI_FUTURES_MAX_WORKERS", "0", /TSMPI_FUTURES_MAX_WORKERS must be an integer >= 1, got "0"/],
    ["TSMPI_SLURM_PORT", "70000", /TSMPI_SLURM_PORT must be an integer in \[1, 65535\], got "70000"/],
    ["TSMPI_BENCH_TIMEOUT", "soon", /TSMPI_BENCH_TIMEOUT must be a positive number, got "soon"/],
  ] as [string, string, RegExp][]) {
    it(`${name}=${value} (a knob of the ranks): tsmpirun says so once, before starting any rank, exit code 2`, async function () {
      const r = await tsmpirun(["-n", "2", fixture("env.js")], { env: { [name]: value } });
      await checkJob(r, 2);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, what);
    });
  }

  for (const name of ["TSMPI_HEARTBEAT_TIMEOUT", "TSMPI_STOPPED_TIMEOUT"]) {
    it(`${name}=abc: one line naming the variable and the value, exit code 2`, async function () {
      const r = await tsmpirun(["-n", "1", fixture("env.js")], { env: { [name]: "abc" } });
      await checkJob(r, 2);
      assert.match(r.stderr.trim(), new RegExp(`^tsmpirun: ${name} must be a positive number, got "abc"`));
    });
  }

  it("--version and -V print the version of package.json and exit 0", async function () {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    for (const flag of ["--version", "-V"]) {
      const r = await tsmpirun([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `tsmpirun (tsmpi) ${version}\n`);
    }
  });

  it("--help prints the options and exits 0", async function () {
    const r = await tsmpirun(["--help"]);
    await checkJob(r, 0);
    for (const opt of ["-n", "--tag-output", "--timeout", "-x", "--wdir", "--oversubscribe", "--info", "--version", "-m"])
      assert.ok(r.stdout.includes(opt), opt);
  });

  it("--info reports versions of tsmpi, node, zeromq/libzmq, msgpackr and the native addon", async function () {
    const r = await tsmpirun(["--info"]);
    await checkJob(r, 0);
    for (const key of ["tsmpi", "node", "zeromq.js", "libzmq", "msgpackr", "native addon"])
      assert.match(r.stdout, new RegExp(`^${key}: \\S`, "m"), key);
    assert.match(r.stdout, /^libzmq: 4\.\d+\.\d+$/m);
    assert.match(r.stdout, /^msgpackr: \d+\.\d+\.\d+ \(native acceleration: (yes|no)\)$/m);
  });
});

describe("tsmpirun: SIGUSR1 opens no inspector (issue 17)", function () {
  this.timeout(60_000);

  /** TCP ports some process among `pids` listens on (from `ss -ltnp`). */
  function listeningPorts(pids: number[]): string[] {
    const out = execFileSync("ss", ["-ltnpH"], { encoding: "utf8" });
    return out.split("\n").filter((l) => pids.some((pid) => l.includes(`pid=${pid},`)));
  }

  /** Waits until every rank of `np` touched `dir/ready.RANK`; returns their pids. */
  async function ready(dir: string, np: number): Promise<number[]> {
    const end = Date.now() + 30_000;
    for (;;) {
      const files = Array.from({ length: np }, (_, r) => path.join(dir, `ready.${r}`));
      if (files.every((f) => fs.existsSync(f) && fs.readFileSync(f, "utf8") !== ""))
        return files.map((f) => Number(fs.readFileSync(f, "utf8")));
      if (Date.now() > end) throw new Error("the ranks did not get ready");
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("kill -USR1 to every rank and to tsmpirun: nothing listens on a new port, no inspector starts, the job ends normally", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-usr1-"));
    try {
      let launcher = 0;
      const job = tsmpirun(["-n", "2", fixture("signals.js"), "release", dir], { timeoutMs: 45_000, onStart: (p) => (launcher = p) });
      const pids = [launcher, ...(await ready(dir, 2))];
      assert.deepEqual(listeningPorts(pids), [], "nothing listens before the signal");
      for (const pid of pids) process.kill(pid, "SIGUSR1");
      await new Promise((r) => setTimeout(r, 1000)); // Node opens its inspector within milliseconds
      const after = listeningPorts(pids);
      fs.writeFileSync(path.join(dir, "release"), "");
      const r = await job;
      assert.deepEqual(after, [], "no process of the job may listen after SIGUSR1");
      // Where port 9229 was taken by someone else, Node says so instead of listening: either way it tried.
      assert.doesNotMatch(r.stderr, /Debugger listening|Starting inspector/);
      await checkJob(r, 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("SIGUSR1 to tsmpirun reaches every rank's own listener (as mpirun forwards it; SLURM's checkpoint warning)", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-usr1-"));
    try {
      let launcher = 0;
      const job = tsmpirun(["-n", "3", fixture("signals.js"), "listen", dir], { timeoutMs: 45_000, onStart: (p) => (launcher = p) });
      await ready(dir, 3);
      process.kill(launcher, "SIGUSR1");
      const r = await job;
      await checkJob(r, 0);
      assert.deepEqual(
        r.stdout
          .split("\n")
          .filter((l) => l.endsWith("got SIGUSR1"))
          .sort(),
        ["rank 0 got SIGUSR1", "rank 1 got SIGUSR1", "rank 2 got SIGUSR1"],
      );
      assert.doesNotMatch(r.stderr, /Debugger listening|Starting inspector/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a user who wants the inspector asks for it: -x NODE_OPTIONS=--inspect=127.0.0.1:0", async function () {
    const r = await tsmpirun(["-n", "2", "-x", "NODE_OPTIONS=--inspect=127.0.0.1:0", fixture("env.js")]);
    await checkJob(r, 0);
    assert.equal(r.stderr.match(/Debugger listening on ws:\/\/127\.0\.0\.1:\d+\//g)?.length, 2, r.stderr);
  });
});

describe("direct launch (simulated srun): a rank's private directory never stays behind (issue 17)", function () {
  this.timeout(60_000);

  /** This user's rank directories (`tsmpi-r*`) in the temp directory. */
  const rankDirs = (): string[] => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith("tsmpi-r"));

  /** A port nothing listens on now. */
  async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((r) => server.close(r));
    return port;
  }

  /** Starts `np` ranks of `script` as srun would (SLURM_* variables), without srun. */
  async function direct(np: number, args: string[], onStart?: (rank: number, pid: number) => void) {
    const port = await freePort();
    const jobId = String(100_000 + Math.floor(Math.random() * 100_000));
    return Array.from({ length: np }, (_, rank) =>
      runNode(args, {
        timeoutMs: 45_000,
        onStart: (pid) => onStart?.(rank, pid),
        env: {
          SLURM_STEP_ID: "0",
          SLURM_PROCID: String(rank),
          SLURM_NTASKS: String(np),
          SLURM_LOCALID: String(rank),
          SLURM_TASKS_PER_NODE: String(np),
          SLURM_JOB_ID: jobId,
          SLURM_STEP_NODELIST: os.hostname(),
          TSMPI_SLURM_PORT: String(port),
          TSMPI_JOB_KEY: "d1rect-launch-test-key-0123456789abcdef0123456789abcdef",
        },
      }),
    );
  }

  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    it(`${signal} to a rank waiting in recv: it ends by ${signal}, the job ends, and no tsmpi-r* directory is left`, async function () {
      const before = new Set(rankDirs());
      const pids: number[] = [];
      const jobs = await direct(2, [fixture("fail.js"), "hang"], (rank, pid) => (pids[rank] = pid));
      // Both ranks joined once each made its directory (bound its endpoint) and stays blocked in recv.
      const end = Date.now() + 20_000;
      while (rankDirs().filter((n) => !before.has(n)).length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500));
      process.kill(pids[1]!, signal);
      const [r0, r1] = await Promise.all(jobs);
      assert.equal(r0!.timedOut || r1!.timedOut, false, "the job hung");
      assert.equal(r1!.signal, signal, `rank 1 should end by ${signal}: ${r1!.stderr}`);
      assert.notEqual(r0!.code, 0);
      assert.deepEqual(
        rankDirs().filter((n) => !before.has(n)),
        [],
        "no private directory may be left",
      );
    });
  }

  it("a directory left by a rank killed with SIGKILL is swept by the next rank started on the host; live ranks' are kept", async function () {
    const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    const stale = path.join(os.tmpdir(), `tsmpi-r1-${dead.stdout.trim()}-AbC123`);
    const live = path.join(os.tmpdir(), `tsmpi-r1-${process.pid}-AbC123`);
    for (const d of [stale, live]) fs.mkdirSync(path.join(d), { recursive: true });
    fs.writeFileSync(path.join(stale, "r1.sock"), "");
    try {
      const [r0, r1] = await Promise.all(await direct(2, [fixture("env.js")]));
      await checkJob(r0!, 0);
      await checkJob(r1!, 0);
      assert.equal(fs.existsSync(stale), false, "the dead rank's directory must be swept");
      assert.equal(fs.existsSync(live), true, "a live process's directory must be kept");
    } finally {
      for (const d of [stale, live]) fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe("tsmpirun: a host name that does not resolve (issue 17)", function () {
  for (const hosts of ["nosuchhost.invalid:1", "localhost:1,nosuchhost.invalid:1"]) {
    it(`--host ${hosts}: one line naming the host, no stack trace, exit code 255`, async function () {
      const r = await tsmpirun(["--host", hosts, fixture("env.js")], { timeoutMs: 30_000 });
      await checkJob(r, 255);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^tsmpirun: cannot resolve the host name "nosuchhost\.invalid"/);
      assert.equal(r.stdout, "");
    });
  }
});
