/**
 * The registry of `TSMPI_*` settings (lib/config.ts): the README's tables are the ones it writes,
 * every variable the library and launcher read is declared there (and every declared one is
 * read), and values are checked one way, with messages naming the variable, range and value.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { SETTINGS, checkSettings, numberSetting, parseInteger, textSetting } from "../lib/config.js";
import { TsmpiError } from "../lib/errors.js";
import { ROOT } from "./helpers/launch.js";

/** The `.ts` files under `dir`. */
function sources(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.join(dir, f));
}

/** Asserts that `fn` throws a TsmpiError with `code` whose message matches `message`. */
function throwsSetting(fn: () => unknown, message: RegExp, code = "ERR_TSMPI_ARG"): void {
  assert.throws(fn, (e: unknown) => e instanceof TsmpiError && e.code === code && message.test(e.message));
}

describe("settings registry (lib/config.ts)", function () {
  it("README.md's settings tables are the ones npm run settings-table writes", function () {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "settings-table.mjs"), "--check"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
  });

  it("declares every TSMPI_* variable lib/ and launcher/ read, and reads every one it declares", function () {
    const read = new Set<string>();
    for (const file of [...sources(path.join(ROOT, "lib")), ...sources(path.join(ROOT, "launcher"))]) {
      let text = fs.readFileSync(file, "utf8");
      // The registry itself: only what config() reads counts, not the declarations.
      if (file.endsWith(path.join("lib", "config.ts"))) text = text.slice(text.indexOf("export function config()"));
      for (const m of text.matchAll(/(?:env\.|env\["|")(TSMPI_[A-Z0-9_]+)/g)) read.add(m[1]!);
    }
    const declared = new Set(SETTINGS.map((s) => s.name));
    assert.deepEqual(
      [...read].filter((n) => !declared.has(n)),
      [],
      "read but not declared in lib/config.ts",
    );
    assert.deepEqual(
      [...declared].filter((n) => !read.has(n)),
      [],
      "declared but read nowhere",
    );
    assert.equal(declared.size, SETTINGS.length, "each setting is declared once");
  });

  it("gives internal variables no table and every user setting one", function () {
    for (const s of SETTINGS) assert.equal(s.internal === true, s.table === undefined, s.name);
  });

  it("reads a number setting: its default when unset or empty, else the value checked against its range", function () {
    assert.equal(numberSetting("TSMPI_EAGER_LIMIT", {}), 65536);
    assert.equal(numberSetting("TSMPI_EAGER_LIMIT", { TSMPI_EAGER_LIMIT: "" }), 65536);
    assert.equal(numberSetting("TSMPI_EAGER_LIMIT", { TSMPI_EAGER_LIMIT: "0" }), 0);
    assert.equal(numberSetting("TSMPI_SPIN_US", {}), undefined);
    assert.equal(numberSetting("TSMPI_HEARTBEAT_TIMEOUT", { TSMPI_HEARTBEAT_TIMEOUT: "0.5" }), 0.5);
    throwsSetting(
      () => numberSetting("TSMPI_EAGER_LIMIT", { TSMPI_EAGER_LIMIT: "abc" }),
      /^TSMPI_EAGER_LIMIT must be an integer in \[0, 1073741824\], got "abc"$/,
    );
    throwsSetting(
      () => numberSetting("TSMPI_SPIN_US", { TSMPI_SPIN_US: "-1" }),
      /^TSMPI_SPIN_US must be an integer in \[0, 1000000\] \(microseconds\), got "-1"$/,
    );
    throwsSetting(
      () => numberSetting("TSMPI_SHM_RING_BYTES", { TSMPI_SHM_RING_BYTES: "5000" }),
      /^TSMPI_SHM_RING_BYTES must be a multiple of 4096 in \[4096, 1073741824\], got "5000"$/,
    );
    throwsSetting(
      () => numberSetting("TSMPI_FUTURES_MAX_WORKERS", { TSMPI_FUTURES_MAX_WORKERS: "0" }),
      /^TSMPI_FUTURES_MAX_WORKERS must be an integer >= 1, got "0"$/,
    );
    throwsSetting(
      () => numberSetting("TSMPI_STOPPED_TIMEOUT", { TSMPI_STOPPED_TIMEOUT: "-2" }),
      /^TSMPI_STOPPED_TIMEOUT must be a positive number, got "-2"$/,
    );
    throwsSetting(
      () => numberSetting("TSMPI_HEARTBEAT_TIMEOUT", { TSMPI_HEARTBEAT_TIMEOUT: "100000" }),
      /^TSMPI_HEARTBEAT_TIMEOUT must be at most 86400 \(seconds\), got "100000"$/,
    );
    throwsSetting(
      () => numberSetting("TSMPI_SLURM_PORT", { TSMPI_SLURM_PORT: "70000" }),
      /^TSMPI_SLURM_PORT must be an integer in \[1, 65535\]/,
      "ERR_TSMPI_RENDEZVOUS",
    );
    throwsSetting(
      () => parseInteger("TSMPI_RANK", "4", 0, 3, { code: "ERR_TSMPI_RENDEZVOUS" }),
      /^TSMPI_RANK must be an integer in \[0, 3\], got "4"$/,
      "ERR_TSMPI_RENDEZVOUS",
    );
  });

  it("refuses a name nobody declared (a typo in tsmpi, not the user's mistake)", function () {
    assert.throws(() => textSetting("TSMPI_NO_SUCH_THING", {}), /not a declared TSMPI_\* setting/);
    assert.throws(() => numberSetting("TSMPI_SHM", {}), /not a number setting/);
  });

  it("checkSettings checks every number setting a user sets, TSMPI_MAX_FRAME against the chunk size", function () {
    checkSettings({});
    for (const s of SETTINGS.filter((s) => !s.internal && (s.kind === "integer" || s.kind === "seconds"))) {
      assert.throws(
        () => checkSettings({ [s.name]: "x" }),
        (e: unknown) => e instanceof TsmpiError && e.message.startsWith(`${s.name} must be`),
        s.name,
      );
    }
    checkSettings({ TSMPI_CHUNK_SIZE: "4096", TSMPI_MAX_FRAME: String(8192 + 48) });
    throwsSetting(
      () => checkSettings({ TSMPI_CHUNK_SIZE: "65536", TSMPI_MAX_FRAME: "65536" }),
      /^TSMPI_MAX_FRAME must be an integer in \[65584, /,
    );
  });
});
