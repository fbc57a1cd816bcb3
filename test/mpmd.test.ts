/**
 * MPMD launch (issue 19, point 8): `tsmpirun -n 1 a.ts : -n 4 b.js`, Open MPI's colon syntax.
 * The command line's parts (launcher/parts.ts), their placement (launcher/plan.ts), the
 * `srun --multi-prog` file, and jobs of 2 and 3 parts: one COMM_WORLD, ranks in the order of
 * the parts, `COMM_WORLD.Get_attr(APPNUM)`, each part's program, arguments, `-x` and `--wdir`.
 * Across the fake ssh hosts and inside a SLURM allocation: test/cluster.test.ts.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { multiProg, parseLaterParts, partOfRank, splitParts, type RankPart } from "../launcher/parts.js";
import { planJob, type PlanOptions } from "../launcher/plan.js";
import { checkJob, fixture, jsonLines, ROOT, runNode, tsmpirun } from "./helpers/launch.js";

const SOURCE = path.join(ROOT, "test", "fixtures", "mpmd.ts");

describe("MPMD: the parts of a command line", function () {
  it("splits at each ':' that stands alone, as Open MPI does", function () {
    assert.deepEqual(splitParts(["-n", "1", "a.js", "x:y", ":", "-n", "2", "b.js", ":", "c"]), [
      ["-n", "1", "a.js", "x:y"],
      ["-n", "2", "b.js"],
      ["c"],
    ]);
    assert.deepEqual(splitParts(["-n", "2", "a.js"]), [["-n", "2", "a.js"]]);
    assert.deepEqual(splitParts(["a.js", ":"]), [["a.js"], []]);
  });

  it("a later part takes -n/-np, -x, --host/-H, --wdir and -m, each for itself; its program's own options stay its arguments", async function () {
    const [b, c] = await parseLaterParts([
      ["a.js"],
      ["-np", "2", "-x", "A=1", "-x", "B", "-H", "h1:2", "--wdir", "/tmp", "b.js", "-n", "9", "--tag-output"],
      ["-m", "tsmpi/bench", "helloworld"],
    ]);
    assert.equal(b!.n, "2");
    assert.deepEqual(b!.x, ["A=1", "B"]);
    assert.equal(b!.host, "h1:2");
    assert.equal(b!.wdir, "/tmp");
    assert.deepEqual(b!._, ["b.js", "-n", "9", "--tag-output"]);
    assert.equal(c!.m, "tsmpi/bench");
    assert.deepEqual(c!._, ["helloworld"]);
  });

  for (const [segments, what] of [
    [[["a.js"], []], /^part 2 \(after ':' number 1\) is empty/],
    [[["a.js"], ["b.js"], []], /^part 3 \(after ':' number 2\) is empty/],
    [[["a.js"], ["--tag-output", "b.js"]], /^part 2 .*: --tag-output is an option of the whole job: give it before the first program/],
    [[["a.js"], ["-n", "1", "--hostfile", "hf", "b.js"]], /^part 2 .*: --hostfile is an option of the whole job/],
    [[["a.js"], ["b.js"], ["--oversubscribe", "c.js"]], /^part 3 .*: --oversubscribe is an option of the whole job/],
    [[["a.js"], ["--no-such-flag", "b.js"]], /^part 2 .*: Unknown argument: no-such-flag/],
  ] as [string[][], RegExp][]) {
    it(`${segments.map((s) => s.join(" ")).join(" : ")}: an error naming the part`, async function () {
      await assert.rejects(parseLaterParts(segments), (err: Error & { code?: string }) => {
        assert.equal(err.code, "ERR_TSMPI_ARG");
        assert.match(err.message, what);
        return true;
      });
    });
  }

  it("partOfRank numbers ranks part after part", function () {
    const parts = [1, 3, 2].map((np) => ({ argv: [], env: {}, wdir: "/", np }));
    assert.deepEqual(
      Array.from({ length: 6 }, (_, r) => partOfRank(parts, r).appnum),
      [0, 1, 1, 1, 2, 2],
    );
    assert.throws(() => partOfRank(parts, 6));
  });

  it("srun --multi-prog file: one line per part, its ranks, env with its -x variables and APPNUM, -C where its directory differs; values single-quoted", function () {
    const parts: RankPart[] = [
      { argv: ["/usr/bin/node", "/w/a.js", "x y", "%t"], env: {}, wdir: "/w", np: 1 },
      { argv: ["/usr/bin/node", "/w/b.js"], env: { A: "1 2" }, wdir: "/tmp", np: 3 },
    ];
    const lines = multiProg(parts, "/w")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    assert.deepEqual(lines, [
      "0 '/usr/bin/env' 'TSMPI_APPNUM=0' '/usr/bin/node' '/w/a.js' 'x y' '%t'",
      "1-3 '/usr/bin/env' '-C' '/tmp' 'A=1 2' 'TSMPI_APPNUM=1' '/usr/bin/node' '/w/b.js'",
    ]);
    assert.throws(() => multiProg([{ ...parts[0]!, argv: ["node", "it's"] }], "/w"), { code: "ERR_TSMPI_ARG" });
    assert.throws(() => multiProg([{ ...parts[0]!, env: { A: "a\nb" } }], "/w"), { code: "ERR_TSMPI_ARG" });
  });
});

describe("MPMD: placement of the parts (plan.ts)", function () {
  // Names of this machine, so that no host is reached over ssh and no name needs DNS.
  const A = "localhost";
  const B = "127.0.0.1";
  const base: PlanOptions = { np: undefined, hosts: [], mapBy: "slot", oversubscribe: false, launcher: "auto" };
  const hostsOf = async (opts: PlanOptions): Promise<{ hosts: string[]; parts?: number[] }> => {
    const plan = await planJob(opts);
    assert.notEqual(plan.mode, "slurm");
    return { hosts: plan.mode === "slurm" ? [] : plan.placements.map((p) => p.host), parts: plan.parts };
  };

  it("without hosts: every part here, a part without -n runs one rank", async function () {
    const plan = await planJob({
      ...base,
      parts: [
        { np: 2, hosts: [] },
        { np: undefined, hosts: [] },
        { np: 3, hosts: [] },
      ],
    });
    assert.equal(plan.mode, "local");
    assert.equal(plan.np, 6);
    assert.deepEqual(plan.parts, [2, 1, 3]);
  });

  it("the first part's --host gives the hosts; a later part without --host takes the slots left free, in order", async function () {
    const got = await hostsOf({
      ...base,
      parts: [
        { np: 1, hosts: [`${A}:2,${B}:2`] },
        { np: 3, hosts: [] },
      ],
    });
    assert.deepEqual(got, { hosts: [A, A, B, B], parts: [1, 3] });
  });

  it("a part with hosts of its own runs there; --map-by node deals each part's ranks round-robin", async function () {
    const got = await hostsOf({
      ...base,
      parts: [
        { np: 1, hosts: [`${B}:1`] },
        { np: 2, hosts: [`${A}:2`] },
        { np: 1, hosts: [] },
      ],
      oversubscribe: true,
    });
    assert.deepEqual(got.hosts, [B, A, A, B]);
    const dealt = await hostsOf({
      ...base,
      mapBy: "node",
      parts: [
        { np: 2, hosts: [`${A}:2,${B}:2`] },
        { np: 2, hosts: [] },
      ],
    });
    assert.deepEqual(dealt.hosts, [A, B, A, B]);
  });

  it("a part without -n runs as many ranks as its hosts have slots; the hostfile's hosts count for every part", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-mpmd-"));
    try {
      const hostfile = path.join(dir, "hosts");
      fs.writeFileSync(hostfile, `${A} slots=2\n${B} slots=2\n`);
      const got = await hostsOf({
        ...base,
        hostfile,
        parts: [
          { np: undefined, hosts: [`${B}:2`] },
          { np: 2, hosts: [] },
        ],
      });
      assert.deepEqual(got, { hosts: [B, B, A, A], parts: [2, 2] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("more ranks than the slots a part finds free: an error naming the part, unless --oversubscribe", async function () {
    const parts = [
      { np: 2, hosts: [`${A}:2`] },
      { np: 1, hosts: [] },
    ];
    await assert.rejects(planJob({ ...base, parts }), (err: Error & { code?: string }) => {
      assert.equal(err.code, "ERR_TSMPI_ARG");
      assert.match(err.message, /^part 2: 1 ranks requested but its hosts have 0 free slots \(localhost:0\); use --oversubscribe/);
      return true;
    });
    assert.deepEqual((await hostsOf({ ...base, parts, oversubscribe: true })).hosts, [A, A, A]);
  });
});

describe("MPMD: jobs of several programs", function () {
  this.timeout(60_000);

  it("3 parts (compiled JS, TypeScript from source, JS again): one COMM_WORLD in part order, APPNUM, each part's arguments, -x and --wdir", async function () {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-mpmd-")));
    try {
      const r = await tsmpirun(
        [
          "-n",
          "1",
          "-x",
          "TEST_PART=zero",
          fixture("mpmd.js"),
          "first",
          ":",
          "-np",
          "2",
          "-x",
          "TEST_PART=one",
          "-x",
          "TEST_ONLY_ONE=1",
          "--wdir",
          dir,
          SOURCE,
          "second",
          "c d",
          "-n",
          "7",
          ":",
          "-n",
          "2",
          fixture("mpmd.js"),
          "third",
        ],
        { env: { TEST_INHERITED: "every rank" } },
      );
      await checkJob(r, 0);
      const seen = jsonLines(r.stdout).sort((a, b) => a.rank - b.rank);
      assert.equal(seen.length, 5, r.stderr);
      const parts = [0, 1, 1, 2, 2];
      const programs = ["js", "ts", "ts", "js", "js"];
      seen.forEach((s, rank) => {
        assert.equal(s.rank, rank);
        assert.equal(s.size, 5);
        assert.equal(s.appnum, parts[rank]);
        assert.equal(s.program, programs[rank]);
        // the allgather spans every part
        assert.deepEqual(
          s.world,
          parts.map((p, q) => [q, p, programs[q]]),
        );
        assert.deepEqual(s.argv, [["first"], ["second", "c d", "-n", "7"], ["third"]][parts[rank]!]);
        assert.deepEqual(
          s.env,
          [
            { TEST_PART: "zero", TEST_INHERITED: "every rank" },
            { TEST_PART: "one", TEST_ONLY_ONE: "1", TEST_INHERITED: "every rank" },
            { TEST_INHERITED: "every rank" },
          ][parts[rank]!],
        );
        assert.equal(s.cwd, parts[rank] === 1 ? dir : ROOT);
        // predefined attributes: COMM_WORLD's, copied by dup, on no other communicator (as Open
        // MPI); a key that is none of them is an error
        assert.deepEqual(s.attrs, { tagUb: 2 ** 31 - 1, dup: parts[rank], split: null, self: null, badKey: "ERR_TSMPI_ARG" });
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("2 parts with the job's options before the first program: --tag-output tags every part's ranks", async function () {
    const r = await tsmpirun(["--tag-output", "-n", "1", fixture("mpmd.js"), ":", "-n", "1", SOURCE]);
    await checkJob(r, 0);
    const lines = r.stdout.trim().split("\n").sort();
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^\[0\] \{"rank":0,"size":2,"appnum":0,"program":"js",/);
    assert.match(lines[1]!, /^\[1\] \{"rank":1,"size":2,"appnum":1,"program":"ts",/);
  });

  it("a one-program job: APPNUM is 0, also one started by a rank of an MPMD job (and plain node, a world of one, too)", async function () {
    // tsmpirun's environment as a rank of part 3 would hand it on
    const r = await tsmpirun(["-n", "2", fixture("mpmd.js")], { env: { TSMPI_APPNUM: "3" } });
    await checkJob(r, 0);
    assert.deepEqual(
      jsonLines(r.stdout).map((s) => s.appnum),
      [0, 0],
    );
    const single = await runNode([fixture("mpmd.js")]);
    await checkJob(single, 0);
    assert.deepEqual(
      jsonLines(single.stdout).map((s) => [s.appnum, s.attrs.dup]),
      [[0, 0]],
    );
  });

  it("-m module in a part: -n 1 -m tsmpi/bench helloworld : -n 2 -m tsmpi/bench helloworld is one world of 3", async function () {
    const r = await tsmpirun(["-n", "1", "-m", "tsmpi/bench", "helloworld", ":", "-n", "2", "-m", "tsmpi/bench", "helloworld"]);
    await checkJob(r, 0);
    assert.deepEqual(
      r.stdout.trim().split("\n"),
      [0, 1, 2].map((k) => `Hello, World! I am process ${k} of 3 on ${os.hostname()}.`),
    );
  });

  it("a rank of one part that fails ends the whole job, naming the rank", async function () {
    const r = await tsmpirun(["-n", "2", fixture("mpmd.js"), ":", "-n", "1", fixture("fail.js"), "exit", "2"]);
    await checkJob(r, 7);
    assert.match(r.stderr, /rank 2 .*exited with code 7/);
  });

  const E = fixture("env.js");
  for (const [args, what] of [
    [["-n", "1", E, ":"], /part 2 \(after ':' number 1\) is empty/],
    [["-n", "1", E, ":", "-n", "0", E], /part 2 \(after ':' number 1\): -n must be a positive integer, got "0"/],
    [["-n", "two", E, ":", "-n", "1", E], /part 1 \(before the first ':'\): -n must be a positive integer/],
    [["-n", "1", E, ":", "--timeout", "5", E], /part 2 .*: --timeout is an option of the whole job/],
    [["-n", "1", E, ":", "-n", "1"], /part 2 .*: no program given/],
    [["-n", "1", E, ":", "-n", "1", "missing-script.ts"], /part 2 .*: script not found: missing-script.ts/],
    [["-n", "1", E, ":", "-x", "1BAD", E], /part 2 .*: -x needs VAR or VAR=value/],
    [["-n", "1", E, ":", "--wdir", "/no/such/dir", E], /part 2 .*: --wdir must be an existing directory/],
    [["--info", "-n", "1", E, ":", E], /--info runs no program: it takes no ':' parts/],
  ] as [string[], RegExp][]) {
    it(`tsmpirun ${args.join(" ").replaceAll(E, "env.js")}: one line naming the part, exit code 2`, async function () {
      const r = await tsmpirun(args);
      await checkJob(r, 2);
      assert.equal(r.stdout, "");
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, what);
      assert.match(lines[0]!, /usage: tsmpirun/);
    });
  }
});
