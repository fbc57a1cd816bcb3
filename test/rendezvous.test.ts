/**
 * The rendezvous as an operator meets it on a shared machine (issue 11, point 6): lines of
 * bounded length, strangers that never say hello closed and bounded in number (TLS handshakes
 * included, issue 17), hellos whose fields could reach a shell refused, the coordinator
 * listening only where ranks dial, a predictable port held by someone else passed over, and the
 * key of a direct srun launch derived from a secret of at least 128 bits only the user can read.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { TsmpiError } from "../lib/errors.js";
import { keyFilePath, launchInfo, SLURM_PORT_TRIES } from "../lib/job/environment.js";
import { rendezvousPsk } from "../lib/job/keys.js";
import { listenAddresses } from "../lib/job/network.js";
import { ROOT } from "./helpers/launch.js";
import { MAX_RANK_LINE, type Hello } from "../lib/job/rendezvous.js";
import { RendezvousClient } from "../lib/job/rendezvous-client.js";
import { RendezvousServer } from "../lib/job/rendezvous-server.js";

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
    const lines = [
      "{not json\n",
      `${JSON.stringify(hello(0, 2, "wrong"))}\n`,
      `${JSON.stringify(hello(5, 2))}\n`,
      `${JSON.stringify({ t: "bye" })}\n`,
      "[]\n",
      "null\n",
    ];
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
    const gone = crowd.map((s) => {
      s.on("error", () => {});
      return closed(s).then(() => true);
    });
    await Promise.all([join(server.address, 0, 2), join(server.address, 1, 2)]);
    await new Promise((r) => setTimeout(r, 200));
    const states = await Promise.all(gone.map((g) => Promise.race([g, new Promise<boolean>((r) => setTimeout(() => r(false), 50))])));
    assert.ok(states.slice(0, 30).every(Boolean), "the oldest strangers were closed");
    assert.ok(states.filter((x) => !x).length <= 2 + 64, "no more than size + 64 strangers stay open");
    for (const s of crowd) s.destroy();
  });

  it("TLS handshakes that never finish count as strangers too: the oldest are closed, ranks still join (issue 17)", async function () {
    const psk = rendezvousPsk(KEY);
    server = await RendezvousServer.listen("tcp:127.0.0.1:0", 2, KEY, {}, { helloTimeoutMs: 60_000, psk });
    // Plain TCP to a TLS coordinator: each connection waits in its handshake, which never comes.
    const crowd = await Promise.all(Array.from({ length: 100 }, () => connect(server.address)));
    const gone = crowd.map((s) => {
      s.on("error", () => {});
      return closed(s).then(() => true);
    });
    const tlsJoin = async (rank: number): Promise<void> => {
      const client = await RendezvousClient.connect(server.address, Date.now() + 20_000, { abort: () => {}, lost: () => {} }, false, psk);
      assert.equal((await client.join(hello(rank, 2), Date.now() + 20_000)).hosts.length, 2);
      client.bye();
    };
    await Promise.all([tlsJoin(0), tlsJoin(1)]);
    await new Promise((r) => setTimeout(r, 200));
    const states = await Promise.all(gone.map((g) => Promise.race([g, new Promise<boolean>((r) => setTimeout(() => r(false), 50))])));
    assert.ok(states.slice(0, 30).every(Boolean), "the oldest pending handshakes were closed");
    assert.ok(
      states.filter((x) => !x).length <= 2 + 64,
      `no more than size + 64 strangers stay open, got ${states.filter((x) => !x).length}`,
    );
    for (const s of crowd) s.destroy();
  });

  it("a rank that joined over TLS is a stranger no more: its connection outlives the hello timeout", async function () {
    const psk = rendezvousPsk(KEY);
    const lost: number[] = [];
    server = await RendezvousServer.listen("tcp:127.0.0.1:0", 1, KEY, { lost: (r) => lost.push(r) }, { helloTimeoutMs: 300, psk });
    let gone = false;
    const client = await RendezvousClient.connect(
      server.address,
      Date.now() + 20_000,
      { abort: () => {}, lost: () => (gone = true) },
      false,
      psk,
    );
    await client.join(hello(0, 1), Date.now() + 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(lost, []);
    assert.equal(gone, false);
    client.bye();
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

describe("rendezvous: a hello's fields are checked before use (issue 17)", function () {
  this.timeout(30_000);
  let server: RendezvousServer;
  afterEach(() => server?.close());

  // The launcher runs `kill -KILL <pid>` and a heartbeat loop over the pids on the rank's host.
  for (const pid of [-1, 0, 1, 1.5, 2 ** 31, "1; touch /tmp/pwned", null]) {
    it(`a hello with pid ${JSON.stringify(pid)} is refused with ERR_TSMPI_RENDEZVOUS naming it`, async function () {
      const joined: number[] = [];
      server = await RendezvousServer.listen("tcp:127.0.0.1:0", 1, KEY, { join: (r) => joined.push(r) }, { helloTimeoutMs: 20_000 });
      const client = await RendezvousClient.connect(server.address, Date.now() + 20_000, { abort: () => {}, lost: () => {} }, false);
      await assert.rejects(
        client.join({ ...hello(0, 1), pid: pid as number }, Date.now() + 20_000),
        (e: unknown) => e instanceof TsmpiError && e.code === "ERR_TSMPI_RENDEZVOUS" && e.message.includes(`pid ${JSON.stringify(pid)}`),
      );
      assert.deepEqual(joined, [], "the coordinator never took it as a rank");
      await join(server.address, 0, 1);
    });
  }

  it("a hello whose host name holds spaces or control characters is refused", async function () {
    server = await RendezvousServer.listen("tcp:127.0.0.1:0", 1, KEY, {}, { helloTimeoutMs: 20_000 });
    const client = await RendezvousClient.connect(server.address, Date.now() + 20_000, { abort: () => {}, lost: () => {} }, false);
    await assert.rejects(
      client.join({ ...hello(0, 1), host: "node1; kill -KILL -1" }, Date.now() + 20_000),
      (e: unknown) => e instanceof TsmpiError && e.code === "ERR_TSMPI_RENDEZVOUS",
    );
    assert.equal(server.joinedCount, 0);
  });
});

describe("rendezvous: a predictable port held by someone else (direct srun, issue 17)", function () {
  this.timeout(60_000);
  const psk = rendezvousPsk(KEY);
  const closers: (() => void)[] = [];
  afterEach(() => closers.splice(0).forEach((c) => c()));

  /** A port nothing listens on now. */
  async function freePort(): Promise<number> {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    return port;
  }

  /** Another user's program on a port: it accepts connections and holds them, saying nothing. */
  async function squatter(): Promise<number> {
    const held = new Set<net.Socket>();
    const s = net.createServer((c) => {
      held.add(c);
      c.on("error", () => {});
    });
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    closers.push(() => {
      held.forEach((c) => c.destroy());
      s.close();
    });
    return (s.address() as net.AddressInfo).port;
  }

  it("rank 0 serves on the first free candidate; ranks pass over a squatter and another job's coordinator to find it", async function () {
    const squatted = await squatter();
    const other = await RendezvousServer.listen("tcp:127.0.0.1:0", 1, "another job's key", {}, { psk: rendezvousPsk("another job's key") });
    closers.push(() => other.close());
    const otherPort = Number(/:(\d+)$/.exec(other.address)![1]);
    const free = await freePort();
    const ports = [squatted, otherPort, free];
    const server = await RendezvousServer.listen("tcp:127.0.0.1:0", 1, KEY, {}, { psk, ports });
    closers.push(() => server.close());
    assert.equal(server.address, `tcp:127.0.0.1:${free}`);
    const client = await RendezvousClient.connect(
      `tcp:127.0.0.1:${ports.join(",")}`,
      Date.now() + 30_000,
      { abort: () => {}, lost: () => {} },
      true,
      psk,
    );
    assert.equal((await client.join(hello(0, 1), Date.now() + 20_000)).hosts.length, 1);
    assert.equal(other.joinedCount, 0);
    client.bye();
  });

  it("every candidate taken: rank 0 fails with ERR_TSMPI_RENDEZVOUS naming the ports and TSMPI_SLURM_PORT", async function () {
    const ports = [await squatter(), await squatter()];
    await assert.rejects(
      RendezvousServer.listen("tcp:127.0.0.1:0", 1, KEY, {}, { psk, ports }),
      (e: unknown) =>
        e instanceof TsmpiError &&
        e.code === "ERR_TSMPI_RENDEZVOUS" &&
        e.message.includes(`ports ${ports.join(", ")} are all in use`) &&
        e.message.includes("TSMPI_SLURM_PORT"),
    );
  });

  it("only listeners without the job key: a rank fails by its deadline with a message that says so", async function () {
    const ports = [await squatter(), await freePort()];
    const t0 = Date.now();
    await assert.rejects(
      RendezvousClient.connect(`tcp:127.0.0.1:${ports.join(",")}`, Date.now() + 3000, { abort: () => {}, lost: () => {} }, true, psk),
      (e: unknown) =>
        e instanceof TsmpiError &&
        e.code === "ERR_TSMPI_RENDEZVOUS" &&
        e.message.includes(`port ${ports[0]}: a listener that failed the TLS handshake`) &&
        e.message.includes("does not hold this job's key"),
    );
    assert.ok(Date.now() - t0 < 20_000, "bounded by the deadline (plus one handshake wait)");
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
    fs.writeFileSync(keyFilePath(slurm()), "0f1e2d3c4b5a69788796a5b4c3d2e1f0\n", { mode: 0o600 });
    assert.notEqual(launchInfo(slurm()).key, mine);
  });

  it("TSMPI_JOB_KEY is used instead of the file when set, and taken out of the environment once read", function () {
    const env = slurm({ TSMPI_JOB_KEY: "0123456789abcdef0123456789abcdef" });
    const a = launchInfo(env);
    assert.equal(fs.existsSync(keyFilePath(slurm())), false, "no file made");
    assert.equal(env.TSMPI_JOB_KEY, undefined, "a child of the rank would inherit it");
    assert.notEqual(a.key, launchInfo(slurm({ TSMPI_JOB_KEY: "q9XbA3kLm0PzR7vYt2WcNe" })).key);
  });

  it("under tsmpirun the job key is taken out of the environment once read", function () {
    const env: NodeJS.ProcessEnv = {
      TSMPI_COORD: "unix:/nonexistent",
      TSMPI_SIZE: "2",
      TSMPI_RANK: "1",
      TSMPI_LOCAL_RANK: "1",
      TSMPI_LOCAL_SIZE: "2",
      TSMPI_JOB_KEY: "0123456789abcdef0123456789abcdef",
    };
    assert.equal(launchInfo(env).key, "0123456789abcdef0123456789abcdef");
    assert.equal("TSMPI_JOB_KEY" in env, false);
  });

  it("inside an allocation the key comes from the nonce and the user's key file (never TSMPI_JOB_KEY), and the nonce leaves the environment too", function () {
    const base: NodeJS.ProcessEnv = {
      XDG_CONFIG_HOME: home,
      TSMPI_COORD: "tcp:node1:1234",
      TSMPI_SIZE: "2",
      SLURM_PROCID: "1",
      SLURM_LOCALID: "0",
      SLURM_NODEID: "1",
      SLURM_STEP_TASKS_PER_NODE: "1(x2)",
    };
    const env = { ...base, TSMPI_JOB_NONCE: "00112233445566778899aabbccddeeff", TSMPI_JOB_KEY: "0123456789abcdef0123456789abcdef" };
    const key = launchInfo(env).key;
    assert.equal("TSMPI_JOB_KEY" in env || "TSMPI_JOB_NONCE" in env, false);
    assert.equal(launchInfo({ ...base, TSMPI_JOB_NONCE: "00112233445566778899aabbccddeeff" }).key, key, "TSMPI_JOB_KEY played no part");
    assert.notEqual(launchInfo({ ...base, TSMPI_JOB_NONCE: "ffeeddccbbaa99887766554433221100" }).key, key, "another nonce, another key");
    assert.ok(!key.includes(fs.readFileSync(keyFilePath(base), "utf8").trim()));
  });

  // 128 bits, measured as written: 32 hex digits, or 22 base64 characters (padding not counted).
  for (const [secret, ok] of [
    ["short", false],
    ["from the environment, long enough", false], // a passphrase: its strength cannot be told
    ["0123456789abcdef0123456789abcde", false], // 31 hex digits: 124 bits
    ["0".repeat(64), false], // one character repeated
    ["0123456789abcdef0123456789abcdef", true],
    ["q9XbA3kLm0PzR7vYt2WcN", false], // 21 base64 characters: 126 bits
    ["q9XbA3kLm0PzR7vYt2WcNe", true],
    ["S2+0nq/0f4QZ7sJb1xYvXA==", true], // openssl rand -base64 16
  ] as const) {
    it(`TSMPI_JOB_KEY ${JSON.stringify(secret)} is ${ok ? "accepted" : "refused with ERR_TSMPI_RENDEZVOUS (at least 128 bits)"}`, function () {
      const run = (): unknown => launchInfo(slurm({ TSMPI_JOB_KEY: secret }));
      if (ok) run();
      else
        assert.throws(
          run,
          (e: unknown) =>
            e instanceof TsmpiError &&
            e.code === "ERR_TSMPI_RENDEZVOUS" &&
            /at least 128 bits/.test(e.message) &&
            !e.message.includes(secret),
        );
    });
  }

  it("a key file with a weak secret is refused, naming the file", function () {
    launchInfo(slurm());
    fs.writeFileSync(keyFilePath(slurm()), "password1234567890\n", { mode: 0o600 });
    assert.throws(
      () => launchInfo(slurm()),
      (e: unknown) =>
        e instanceof TsmpiError &&
        e.code === "ERR_TSMPI_RENDEZVOUS" &&
        e.message.includes(keyFilePath(slurm())) &&
        /128 bits/.test(e.message),
    );
  });

  it("a key file that cannot be written (file size limit, as on a full disk) leaves nothing behind", function () {
    // A child with RLIMIT_FSIZE 0 and SIGXFSZ ignored: its writes fail (EFBIG), as they would with ENOSPC.
    const code = `import(${JSON.stringify(path.join(ROOT, "dist", "lib", "job", "environment.js"))}).then((m) => {
      try { m.launchInfo(${JSON.stringify(slurm())}); console.log("made"); } catch (e) { console.log(e.code); }
    })`;
    const r = spawnSync("sh", ["-c", `trap '' XFSZ; ulimit -f 0; exec "$0" -e "$1"`, process.execPath, code], {
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(r.stdout.trim(), "ERR_TSMPI_RENDEZVOUS", r.stderr);
    assert.deepEqual(fs.readdirSync(path.dirname(keyFilePath(slurm()))), [], "no key file, no temporary file");
  });

  it("the rendezvous port: a few distinct candidates per job and step below the ephemeral range; TSMPI_SLURM_PORT names one", function () {
    const a = launchInfo(slurm({ SLURM_PROCID: "0" }));
    const ports = a
      .coordinator!.replace(/^tcp:node1:/, "")
      .split(",")
      .map(Number);
    assert.equal(ports.length, SLURM_PORT_TRIES);
    assert.equal(new Set(ports).size, ports.length);
    for (const p of ports) assert.ok(p >= 10000 && p < 30000, String(p));
    assert.deepEqual(a.ports, ports);
    assert.equal(a.serve, `tcp:node1:${ports[0]}`);
    assert.notDeepEqual(launchInfo(slurm({ SLURM_STEP_ID: "1" })).coordinator, a.coordinator);
    assert.equal(launchInfo(slurm({ TSMPI_SLURM_PORT: "23456" })).coordinator, "tcp:node1:23456");
  });

  it("a key file others can read is refused with ERR_TSMPI_RENDEZVOUS naming it", function () {
    launchInfo(slurm());
    fs.chmodSync(keyFilePath(slurm()), 0o644);
    assert.throws(
      () => launchInfo(slurm()),
      (e: unknown) =>
        e instanceof TsmpiError &&
        e.code === "ERR_TSMPI_RENDEZVOUS" &&
        e.message.includes(keyFilePath(slurm())) &&
        /mode 600\), got mode 644/.test(e.message),
    );
  });
});
