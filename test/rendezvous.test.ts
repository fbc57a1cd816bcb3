/**
 * The rendezvous as an operator meets it on a shared machine (issue 11, point 6): lines of
 * bounded length, strangers that never say hello closed and bounded in number, the coordinator
 * listening only where ranks dial, and the key of a direct srun launch derived from a secret
 * only the user can read.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { TsmpiError } from "../lib/errors.js";
import { keyFilePath, launchInfo } from "../lib/job/environment.js";
import { listenAddresses } from "../lib/job/network.js";
import { MAX_RANK_LINE, RendezvousClient, RendezvousServer, type Hello } from "../lib/job/rendezvous.js";

const KEY = "k".repeat(32);

function hello(rank: number, size: number, key = KEY): Hello {
  return { t: "hello", key, rank, size, pid: process.pid, host: os.hostname(), addrs: [`tcp://127.0.0.1:${1000 + rank}`], cma: "" };
}

/** Resolves when `socket` closes; with how many ms it took. */
function closed(socket: net.Socket): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve) => socket.on("close", () => resolve(Date.now() - t0)));
}

function connect(address: string): Promise<net.Socket> {
  const m = /^tcp:(.+):(\d+)$/.exec(address)!;
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: m[1]!, port: Number(m[2]) }, () => resolve(s));
    s.on("error", reject);
  });
}

/** Joins a real rank of a job of `size` through the client, resolving with the table. */
async function join(address: string, rank: number, size: number): Promise<void> {
  const client = await RendezvousClient.connect(address, Date.now() + 20_000, { abort: () => {}, lost: () => {} }, false);
  const table = await client.join(hello(rank, size), Date.now() + 20_000);
  assert.equal(table.hosts.length, size);
  client.bye();
}

describe("rendezvous: strangers and bad lines", function () {
  this.timeout(30_000);
  let server: RendezvousServer;
  afterEach(() => server?.close());

  it("a line longer than the limit (and without hello) closes that connection; ranks still join", async function () {
    server = await RendezvousServer.listen("tcp:127.0.0.1:0", 2, KEY, {}, { helloTimeoutMs: 20_000 });
    const bad = await connect(server.address);
    const gone = closed(bad);
    bad.on("error", () => {});
    // 4 MiB without a newline: the coordinator must not buffer it.
    for (let i = 0; i < 64; i++) bad.write("x".repeat(64 * 1024));
    await gone;
    await Promise.all([join(server.address, 0, 2), join(server.address, 1, 2)]);
  });

  it("malformed lines: not JSON, a wrong key, a rank out of range; each is refused and ranks still join", async function () {
    server = await RendezvousServer.listen("tcp:127.0.0.1:0", 2, KEY, {}, { helloTimeoutMs: 20_000 });
    const lines = ["{not json\n", JSON.stringify(hello(0, 2, "wrong")) + "\n", JSON.stringify(hello(5, 2)) + "\n", JSON.stringify({ t: "bye" }) + "\n", "[]\n", "null\n"];
    for (let round = 0; round < 50; round++) {
      for (const line of lines) {
        const s = await connect(server.address);
        s.on("error", () => {});
        s.resume(); // read the refusal, so the coordinator's end of the connection is seen
        const gone = closed(s);
        s.write(line);
        if (line !== "[]\n" && line !== "null\n" && !line.includes('"bye"')) await gone;
        else s.destroy();
      }
    }
    assert.equal(server.joinedCount, 0);
    await Promise.all([join(server.address, 0, 2), join(server.address, 1, 2)]);
  });

  it("a connection that never says hello is closed after the hello timeout", async function () {
    server = await RendezvousServer.listen("tcp:127.0.0.1:0", 2, KEY, {}, { helloTimeoutMs: 300 });
    const silent = await connect(server.address);
    assert.ok((await closed(silent)) >= 250, "not before its time");
  });

  it("strangers beyond the bound close the oldest first, so a rank can always get in", async function () {
    server = await RendezvousServer.listen("tcp:127.0.0.1:0", 2, KEY, {}, { helloTimeoutMs: 60_000 });
    const crowd = await Promise.all(Array.from({ length: 100 }, () => connect(server.address)));
    const gone = crowd.map((s) => (s.on("error", () => {}), closed(s).then(() => true)));
    await Promise.all([join(server.address, 0, 2), join(server.address, 1, 2)]);
    await new Promise((r) => setTimeout(r, 200));
    const states = await Promise.all(gone.map((g) => Promise.race([g, new Promise<boolean>((r) => setTimeout(() => r(false), 50))])));
    assert.ok(states.slice(0, 30).every(Boolean), "the oldest strangers were closed");
    assert.ok(states.filter((x) => !x).length <= 2 + 64, "no more than size + 64 strangers stay open");
    for (const s of crowd) s.destroy();
  });

  it("a long error reason is cut to fit the line limit, and the coordinator still hears it", async function () {
    let reason = "";
    server = await RendezvousServer.listen("tcp:127.0.0.1:0", 1, KEY, { error: (_r, why) => (reason = why) }, { helloTimeoutMs: 20_000 });
    const client = await RendezvousClient.connect(server.address, Date.now() + 20_000, { abort: () => {}, lost: () => {} }, false);
    await client.join(hello(0, 1), Date.now() + 20_000);
    client.report({ t: "error", reason: "e".repeat(MAX_RANK_LINE * 2) });
    for (let i = 0; i < 100 && !reason; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(reason.length > 1000 && reason.length < MAX_RANK_LINE, `got ${reason.length} characters`);
    client.bye();
  });
});

describe("rendezvous: where the coordinator listens", function () {
  it("listenAddresses gives addresses of this host that the name resolves to, never 0.0.0.0", async function () {
    const addrs = await listenAddresses("localhost", undefined, undefined);
    assert.ok(addrs.length > 0);
    for (const a of addrs) {
      assert.notEqual(a, "0.0.0.0");
      assert.ok(net.isIP(a), a);
    }
    assert.ok(addrs.includes("127.0.0.1") || addrs.includes("::1"), addrs.join(", "));
  });

  it("a coordinator listening on 127.0.0.1 is not reachable on another local address", async function () {
    const other = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
    if (!other) {
      console.log("      skipped: this host has no non-loopback IPv4 address");
      this.skip();
    }
    const server = await RendezvousServer.listen("tcp:127.0.0.1:0", 1, KEY, {});
    try {
      const port = Number(/:(\d+)$/.exec(server.address)![1]);
      await assert.rejects(connect(`tcp:${other}:${port}`), (e: NodeJS.ErrnoException) => e.code === "ECONNREFUSED");
    } finally {
      server.close();
    }
  });
});

describe("direct srun launch: the job key comes from the user's secret", function () {
  let home = "";
  const slurm = (over: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    XDG_CONFIG_HOME: home,
    SLURM_STEP_ID: "0",
    SLURM_PROCID: "1",
    SLURM_NTASKS: "2",
    SLURM_LOCALID: "1",
    SLURM_JOB_ID: "4242",
    SLURM_STEP_NODELIST: "node1",
    SLURM_CLUSTER_NAME: "c",
    ...over,
  });
  beforeEach(() => (home = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-home-"))));
  afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

  it("creates ~/.config/tsmpi/job-key readable by the user alone, and derives the key from it", function () {
    const a = launchInfo(slurm());
    const file = keyFilePath(slurm());
    assert.equal(file, path.join(home, "tsmpi", "job-key"));
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.equal(launchInfo(slurm()).key, a.key, "the same secret gives the same key");
    assert.notEqual(launchInfo(slurm({ SLURM_STEP_ID: "1" })).key, a.key, "another step, another key");
    assert.ok(!a.key.includes(fs.readFileSync(file, "utf8").trim()), "the secret itself never travels");
  });

  it("the key cannot be computed from public facts: another user's secret gives another key", function () {
    const mine = launchInfo(slurm()).key;
    fs.writeFileSync(keyFilePath(slurm()), "another secret of some length\n", { mode: 0o600 });
    assert.notEqual(launchInfo(slurm()).key, mine);
  });

  it("TSMPI_JOB_KEY is used instead of the file when set", function () {
    const a = launchInfo(slurm({ TSMPI_JOB_KEY: "from the environment, long enough" }));
    assert.equal(fs.existsSync(keyFilePath(slurm())), false, "no file made");
    assert.notEqual(a.key, launchInfo(slurm({ TSMPI_JOB_KEY: "another one, long enough too" })).key);
  });

  it("a key file others can read is refused with ERR_TSMPI_RENDEZVOUS naming it", function () {
    launchInfo(slurm());
    fs.chmodSync(keyFilePath(slurm()), 0o644);
    assert.throws(
      () => launchInfo(slurm()),
      (e: unknown) => e instanceof TsmpiError && e.code === "ERR_TSMPI_RENDEZVOUS" && e.message.includes(keyFilePath(slurm())) && /mode 600\), got mode 644/.test(e.message),
    );
  });
});
