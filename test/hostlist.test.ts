// Tests for lib/job/hostlist.ts. The oracle is Slurm itself: `scontrol show hostnames` and
// `scontrol show hostlist` run offline. scontrol needs *some* slurm.conf, or it tries a DNS SRV
// lookup (configless mode) and fails, so the oracle gets a two-line one in a temp dir.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compressHostlist, expandHostlist, expandTasksPerNode, MAX_RANGE_HOSTS } from "../lib/job/hostlist.js";
import { TsmpiError } from "../lib/errors.js";

function isArgError(err: unknown): boolean {
  return err instanceof TsmpiError && err.code === "ERR_TSMPI_ARG";
}

/** The environment for scontrol: our own minimal config, never the machine's. */
function oracleEnv(confDir: string): NodeJS.ProcessEnv {
  return { ...process.env, SLURM_CONF: join(confDir, "slurm.conf") };
}

/** Why the oracle cannot run here, or null when `scontrol` is on PATH and works. */
function scontrolMissing(confDir: string): string | null {
  const r = spawnSync("scontrol", ["--version"], { encoding: "utf8", timeout: 5000, env: oracleEnv(confDir) });
  if (r.error) return `scontrol not found on PATH or not runnable (${r.error.message})`;
  return r.status === 0 ? null : `scontrol --version failed: ${r.stderr.trim()}`;
}

/** `scontrol show <what> <arg>`: its output lines, or null where Slurm reports the input invalid. */
function scontrol(confDir: string, what: "hostnames" | "hostlist", arg: string): string[] | null {
  const r = spawnSync("scontrol", ["show", what, arg], { encoding: "utf8", timeout: 5000, env: oracleEnv(confDir) });
  if (r.error || r.status !== 0) throw new Error(`scontrol show ${what} ${arg}: ${r.error?.message ?? r.stderr}`);
  // scontrol exits 0 on a bad hostlist; it prints "Invalid hostlist: ..." to stderr instead.
  if (r.stderr.includes("Invalid hostlist")) return null;
  return r.stdout.split("\n").filter((l) => l !== "");
}

// Expressions Slurm and tsmpi both accept, with identical expansion expected.
const VALID = [
  "node[01-04,07]",
  "r[1-2]n[1-2]",
  "r[1-2]n[1-3]",
  "a[1-2]b[1-2]c[1-2]",
  "a[1-3]b[1-2]c[1-2]d[1-2]",
  "x[1-2]y[3]z[4-5]",
  "n[1-2][3-4]",
  "n[1-2]-[3-4]",
  "node[1-3]a[4-5]",
  "a,b",
  "a b",
  "a\tb",
  "n[1-2] , x",
  "n1,,n2",
  ",a",
  "a,",
  "node[1-3],x[5-6]",
  "a[1-2]b[1-2],c",
  "n[9-11]",
  "n[09-11]",
  "n[08-10]",
  "n[001-3]",
  "n[1-003]",
  "n[01-2]",
  "n[10-0100]",
  "n[0001-0003]",
  "n[2,1]",
  "n[1-3,2]",
  "n[1-2,5-6,9]",
  "a,a",
  "n[1-2],n[1-2]",
  "[1-2]",
  "n[3]",
  "n[0-0]",
  "n1[2-3]",
  "n-1",
  "N-A.b,c_d",
  "login.cluster.example.org",
  "n[99999999999-99999999999]",
  `n[1-${MAX_RANGE_HOSTS}]`,
];

// Expressions both reject.
const INVALID_BOTH = [
  "node[5-2]",
  "n[10-9]",
  "n[a-b]",
  "n[]",
  "n[1,,2]",
  "n[-1]",
  "n[1-2-3]",
  "n[1-2]]",
  "n[[1-2]]",
  `n[0-${MAX_RANGE_HOSTS}]`,
  "x[1-2]y[]",
  "n[1-2]x[a]",
  "n[1-0x2]",
  "n[1e1]",
  "n[1 ]",
];

describe("hostlist", () => {
  describe("expandHostlist", () => {
    it("expands ranges and keeps zero padding", () => {
      assert.deepEqual(expandHostlist("node[01-04,07]"), ["node01", "node02", "node03", "node04", "node07"]);
      assert.deepEqual(expandHostlist("n[8-10]"), ["n8", "n9", "n10"]);
      assert.deepEqual(expandHostlist("n[08-10]"), ["n08", "n09", "n10"]);
      assert.deepEqual(expandHostlist("n[1-003]"), ["n1", "n2", "n3"]);
    });

    it("expands several bracket groups in Slurm's order", () => {
      assert.deepEqual(expandHostlist("r[1-2]n[1-2]"), ["r1n1", "r1n2", "r2n1", "r2n2"]);
      // three groups: last fastest, then the first, the middle slowest (as scontrol prints)
      assert.deepEqual(expandHostlist("a[1-2]b[1-2]c[1-2]"), [
        "a1b1c1",
        "a1b1c2",
        "a2b1c1",
        "a2b1c2",
        "a1b2c1",
        "a1b2c2",
        "a2b2c1",
        "a2b2c2",
      ]);
    });

    it("tells commas inside brackets from commas between items", () => {
      assert.deepEqual(expandHostlist("n[1,3],m[2-3],x"), ["n1", "n3", "m2", "m3", "x"]);
      assert.deepEqual(expandHostlist("plain"), ["plain"]);
      assert.deepEqual(expandHostlist("a, b\tc"), ["a", "b", "c"]);
    });

    it("accepts text after the last bracket (an extension: Slurm 22.05 rejects it)", () => {
      assert.deepEqual(expandHostlist("n[1-2]-ib"), ["n1-ib", "n2-ib"]);
      assert.deepEqual(expandHostlist("x[01-02]y.cl,z"), ["x01y.cl", "x02y.cl", "z"]);
    });

    for (const expr of INVALID_BOTH) {
      it(`rejects ${JSON.stringify(expr)}`, () => {
        assert.throws(() => expandHostlist(expr), isArgError);
      });
    }

    // Slurm reads these leniently (or mangles them); tsmpi rejects them.
    for (const expr of ["", " , ", "node[", "node]", "n[1-2", "n[1-]", "n[ 1-2]", "n[+1-2]", "n[1-2]\nm", "a[1-60000]b[1-60000]"]) {
      it(`rejects ${JSON.stringify(expr)} (Slurm is lenient here)`, () => {
        assert.throws(() => expandHostlist(expr), isArgError);
      });
    }

    it("rejects a non-string", () => {
      assert.throws(() => expandHostlist(42 as unknown as string), isArgError);
    });
  });

  describe("expandTasksPerNode", () => {
    const cases: [string, number[]][] = [
      ["2(x3),1", [2, 2, 2, 1]],
      ["4", [4]],
      ["3,1", [3, 1]],
      ["1,2(x2)", [1, 2, 2]],
      ["2(x1)", [2]],
      ["16(x2),8(x2),1", [16, 16, 8, 8, 1]],
    ];
    for (const [expr, want] of cases) {
      it(`expands ${expr}`, () => assert.deepEqual(expandTasksPerNode(expr), want));
    }
    for (const expr of ["", "x", "2(3)", "2(x3", "2(x0)", "2,,1", "-1", "2 (x3)", "1.5", "2(x3),", "2(x99999999)"]) {
      it(`rejects ${JSON.stringify(expr)}`, () => {
        assert.throws(() => expandTasksPerNode(expr), isArgError);
      });
    }
  });

  describe("compressHostlist", () => {
    const cases: [string[], string][] = [
      [["node01", "node02", "node03", "node07", "login"], "node[01-03,07],login"],
      [["n3", "n1", "n2"], "n[3,1-2]"],
      [["n9", "n10", "n11", "n13"], "n[9-11,13]"],
      [["n09", "n010"], "n[09,010]"],
      [["n1", "n1"], "n[1,1]"],
      [["a1", "a2", "b", "a3"], "a[1-2],b,a3"],
      [["x1y1", "x1y2", "x2y1"], "x1y[1-2],x2y1"],
      [["1", "2", "3"], "[1-3]"],
      [["solo"], "solo"],
      [["n5"], "n5"],
    ];
    for (const [hosts, want] of cases) {
      it(`compresses ${hosts.join(",")} and expands back`, () => {
        assert.equal(compressHostlist(hosts), want);
        assert.deepEqual(expandHostlist(compressHostlist(hosts)), hosts);
      });
    }
    it("round-trips every valid expression's expansion", () => {
      for (const expr of VALID) {
        const hosts = expandHostlist(expr);
        assert.deepEqual(expandHostlist(compressHostlist(hosts)), hosts, expr);
      }
    });
    for (const bad of [[], ["a,b"], ["n[1]"], ["a b"], [""]]) {
      it(`rejects ${JSON.stringify(bad)}`, () => {
        assert.throws(() => compressHostlist(bad), isArgError);
      });
    }
  });

  describe("oracle: scontrol show hostnames / hostlist", function () {
    let confDir = "";
    before(function () {
      confDir = mkdtempSync(join(tmpdir(), "tsmpi-hostlist-oracle-"));
      writeFileSync(join(confDir, "slurm.conf"), "ClusterName=oracle\nSlurmctldHost=localhost\n");
      const missing = scontrolMissing(confDir);
      if (missing) {
        console.log(`    skipping the scontrol oracle: ${missing}`);
        this.skip();
      }
    });
    after(() => {
      if (confDir) rmSync(confDir, { recursive: true, force: true });
    });

    for (const expr of VALID) {
      it(`expands ${JSON.stringify(expr.length > 40 ? `${expr.slice(0, 40)}…` : expr)} like scontrol`, () => {
        const want = scontrol(confDir, "hostnames", expr);
        assert.notEqual(want, null, `scontrol rejected ${expr}`);
        assert.deepEqual(expandHostlist(expr), want);
      });
    }
    for (const expr of INVALID_BOTH) {
      it(`rejects ${JSON.stringify(expr)} like scontrol`, () => {
        assert.equal(scontrol(confDir, "hostnames", expr), null);
        assert.throws(() => expandHostlist(expr), isArgError);
      });
    }
    for (const hosts of [
      ["node01", "node02", "node03", "node07", "login"],
      ["n3", "n1", "n2"],
      ["n9", "n10", "n11", "n13"],
      ["n09", "n010"],
      ["a1", "a2", "b", "a3"],
      ["x1y1", "x1y2", "x2y1"],
      ["n1-2", "n1-3"],
    ]) {
      it(`compresses ${hosts.join(",")} like scontrol show hostlist`, () => {
        assert.deepEqual([compressHostlist(hosts)], scontrol(confDir, "hostlist", hosts.join(",")));
      });
    }
  });
});
