/**
 * Mocha side of a suite (a file of `test/suites/`, run in the ranks by `test/fixtures/run-suite.ts`):
 * runs it once per world size and registers one `it` per
 * case and communicator, which passes when every rank reported success, and one that passes
 * when the job exited 0 by itself within its time bound and left no process.
 */
import assert from "node:assert/strict";
import { RESULT_PREFIX, type Case, type CaseResult } from "../suites/types.js";
import { checkJob, fixture, runNode, tsmpirun, type JobOptions, type JobResult } from "./launch.js";

export interface SuiteOptions {
  /** World sizes under tsmpirun; "node" runs the fixture with plain node (a world of one). */
  sizes: (number | "node")[];
  kinds?: string[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  extraArgs?: string[];
  /** How to start the job of `np` ranks running `args` (default: tsmpirun -n np ...extraArgs). */
  launch?: (np: number, args: string[], run: JobOptions) => Promise<JobResult>;
  /** Title of the world sizes' describe blocks (default "N ranks"). */
  where?: string;
}

/** Registers `describe` blocks for `suite` at each world size. */
export function describeSuite(suite: string, cases: Record<string, Case>, opts: SuiteOptions): void {
  const kinds = opts.kinds ?? ["world", "dup", "self"];
  for (const np of opts.sizes) {
    const title =
      np === "node" ? "plain node (a world of one, no launcher)" : `${np} rank${np > 1 ? "s" : ""}${opts.where ? ` ${opts.where}` : ""}`;
    const settings = Object.entries(opts.env ?? {})
      .filter(([k]) => k.startsWith("TSMPI_"))
      .map(([k, v]) => `${k}=${v}`);
    describe(`${suite} on ${title}${settings.length ? ` (${settings.join(" ")})` : ""}`, function () {
      this.timeout((opts.timeoutMs ?? 120000) + 10000);
      const results = new Map<string, CaseResult[]>();
      let stderr = "";
      let exit = "";
      let job: JobResult | undefined;
      before(async function () {
        const args = [fixture("run-suite.js"), suite, kinds.join(",")];
        const run = { timeoutMs: opts.timeoutMs ?? 120000, env: opts.env };
        const r =
          np === "node"
            ? await runNode(args, run)
            : opts.launch
              ? await opts.launch(np, args, run)
              : await tsmpirun(["-n", String(np), ...(opts.extraArgs ?? []), ...args], run);
        job = r;
        stderr = r.stderr;
        exit = r.timedOut ? `hung: killed after ${r.ms} ms` : `exit code ${r.code}${r.signal ? ` signal ${r.signal}` : ""}`;
        for (const line of r.stdout.split("\n")) {
          if (!line.startsWith(RESULT_PREFIX)) continue;
          const res = JSON.parse(line.slice(RESULT_PREFIX.length)) as CaseResult;
          const key = `${res.case}@${res.comm}`;
          results.set(key, [...(results.get(key) ?? []), res]);
        }
      });
      it("the job exits 0 by itself within its time bound and leaves no process", async function () {
        assert.ok(job, "the job did not run");
        await checkJob(job);
      });
      for (const kind of kinds) {
        for (const name of Object.keys(cases)) {
          it(`${name} [${kind}]`, function () {
            const got = results.get(`${name}@${kind}`) ?? [];
            const failed = got.filter((g) => !g.ok);
            assert.equal(failed.length, 0, failed.map((f) => `rank ${f.rank}: ${f.error}`).join("\n"));
            assert.equal(
              got.length,
              np === "node" ? 1 : np,
              `only ${got.length} of ${np} ranks reported (${exit}); stderr:\n${stderr.slice(-3000)}`,
            );
          });
        }
      }
    });
  }
}
