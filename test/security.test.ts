/**
 * Traffic between hosts is encrypted and authenticated (issue 11, point 1), checked on real
 * sockets over loopback TCP: two ZeroMQ transports with the job's CURVE keys, a recording TCP
 * proxy between them (what someone on the network sees), and outsiders without the keys that
 * try to connect, read and inject; the rendezvous over TLS-PSK the same way. Each check also
 * runs with encryption off (or with the probe holding the keys), where it must see the
 * opposite within the same wait, so none can pass by accident.
 *
 * Secrets and trust between processes (issue 17, point 5): the job key leaves a rank's
 * environment once read, `-x` values reach remote ranks through ssh's stdin rather than its
 * command line, the rendezvous negotiates ECDHE-PSK only, a rank's pid is checked before it goes
 * into a shell command, and single-copy reads are allowed only to the job's own launcher.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import net from "node:net";
import os from "node:os";
import { createRequire } from "node:module";
import tls from "node:tls";
import type * as Zmq from "zeromq";
import { heartbeatScript } from "../launcher/heartbeat.js";
import { secretLine, sshArgv } from "../launcher/spawn.js";
import { curveKeys, PSK_IDENTITY, rendezvousPsk } from "../lib/job/keys.js";
import type { Hello } from "../lib/job/rendezvous.js";
import { RendezvousClient } from "../lib/job/rendezvous-client.js";
import { RendezvousServer } from "../lib/job/rendezvous-server.js";
import { peerTracer } from "../lib/transport/host.js";
import { ZmqTransport } from "../lib/transport/zmq.js";
import { checkJob, fixture, jsonLines, tsmpirun } from "./helpers/launch.js";

const zmq = createRequire(import.meta.url)("zeromq") as typeof Zmq;
const JOB_KEY = "0123456789abcdef0123456789abcdef";
const MARKER = "plain-text-marker-that-must-not-be-seen-on-the-wire";

/** A TCP proxy to `target` that records every byte it forwards, both ways. */
async function recordingProxy(target: string): Promise<{ endpoint: string; seen: () => Buffer; close: () => void }> {
  const m = /^tcp:\/\/(.+):(\d+)$/.exec(target)!;
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: m[1]!, port: Number(m[2]) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
    }
    client.on("data", (d) => {
      chunks.push(d);
      upstream.write(d);
    });
    upstream.on("data", (d) => {
      chunks.push(d);
      client.write(d);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    endpoint: `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    seen: () => Buffer.concat(chunks),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** Waits until `cond()` or `ms` passed; returns whether it held. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
}

/**
 * How long a probe's message is waited for once a legitimate message sent after it arrived.
 * The same wait serves the checks that nothing arrived and their counterparts that show the same
 * probe does arrive within it when it is let in, so the first cannot pass only by waiting too little.
 */
const PROBE_WAIT_MS = 2000;

for (const secure of [true, false]) {
  describe(`transport between hosts ${secure ? "with CURVE (the default)" : "without encryption (--insecure)"}`, function () {
    this.timeout(30_000);
    const curve = secure ? curveKeys(JOB_KEY) : undefined;
    let receiver: ZmqTransport;
    let sender: ZmqTransport;
    let got: Buffer[][];
    let proxy: Awaited<ReturnType<typeof recordingProxy>>;

    beforeEach(async function () {
      got = [];
      receiver = await ZmqTransport.bind(
        1,
        ["tcp://127.0.0.1:*"],
        (frames) => void got.push(frames),
        (err) => assert.fail(String(err)),
        { curve },
      );
      sender = await ZmqTransport.bind(
        0,
        ["tcp://127.0.0.1:*"],
        () => {},
        (err) => assert.fail(String(err)),
        { curve },
      );
      proxy = await recordingProxy(receiver.endpoints[0]!);
      sender.setPeers(["", proxy.endpoint]);
      receiver.hold(); // keep its receive loop running
    });
    afterEach(async function () {
      receiver.release();
      await sender.close(0);
      await receiver.close(0);
      proxy.close();
    });

    it(`a rank with the job's keys reaches the other; the wire ${secure ? "never shows" : "shows"} the payload`, async function () {
      sender.send(1, [Buffer.from(MARKER)]);
      assert.ok(await until(() => got.length === 1, 10_000), "the message arrived");
      assert.equal(got[0]![0]!.toString(), MARKER);
      assert.equal(proxy.seen().includes(MARKER), !secure);
    });

    it(`an outsider without keys ${secure ? "cannot connect or inject" : "injects freely"} (the same probe, the same wait)`, async function () {
      const outsider = new zmq.Dealer({ linger: 0 });
      outsider.connect(receiver.endpoints[0]!);
      await outsider.send(Buffer.from("injected"));
      // A rank with the keys, sent after the outsider: once it is in, the outsider had its chance.
      sender.send(1, [Buffer.from("legit")]);
      assert.ok(await until(() => got.some((f) => f[0]!.toString() === "legit"), 10_000));
      await until(() => got.length >= 2, PROBE_WAIT_MS);
      assert.equal(
        got.some((f) => f[0]!.toString() === "injected"),
        !secure,
      );
      outsider.close();
    });

    if (secure) {
      /** The probe: a DEALER with the CURVE keys of job `probeKey`; resolves whether its message arrived within the wait. */
      async function probeWithKeysOf(probeKey: string): Promise<boolean> {
        const other = curveKeys(probeKey);
        const outsider = new zmq.Dealer({
          linger: 0,
          curveServerKey: other.publicKey,
          curvePublicKey: other.publicKey,
          curveSecretKey: other.secretKey,
        });
        try {
          outsider.connect(receiver.endpoints[0]!);
          void outsider.send(Buffer.from("injected with its keys")).catch(() => {});
          sender.send(1, [Buffer.from("legit")]);
          assert.ok(await until(() => got.some((f) => f[0]!.toString() === "legit"), 10_000));
          return until(() => got.some((f) => f[0]!.toString() === "injected with its keys"), PROBE_WAIT_MS);
        } finally {
          outsider.close();
        }
      }

      it("an outsider with CURVE keys of its own (another job's) cannot connect either", async function () {
        assert.equal(await probeWithKeysOf("another job's key, not this one's"), false);
        assert.equal(got.length, 1, "only the rank's message");
      });

      it("the same probe holding this job's keys does get in within the same wait (so the check above can fail)", async function () {
        assert.equal(await probeWithKeysOf(JOB_KEY), true);
      });
    }
  });
}

describe("rendezvous between hosts over TLS-PSK", function () {
  this.timeout(30_000);
  const psk = rendezvousPsk(JOB_KEY);
  const hello: Hello = { t: "hello", key: JOB_KEY, rank: 0, size: 1, pid: process.pid, host: os.hostname(), addrs: [], cma: "" };
  let server: RendezvousServer;
  afterEach(() => server?.close());

  it("a rank with the job key joins; the job key never crosses the wire in clear", async function () {
    server = await RendezvousServer.listen("tcp:127.0.0.1:0", 1, JOB_KEY, {}, { psk });
    const m = /^tcp:(.+):(\d+)$/.exec(server.address)!;
    const proxy = await recordingProxy(`tcp://${m[1]}:${m[2]}`);
    try {
      const client = await RendezvousClient.connect(
        `tcp:${proxy.endpoint.slice(6)}`,
        Date.now() + 10_000,
        { abort: () => {}, lost: () => {} },
        false,
        psk,
      );
      const table = await client.join(hello, Date.now() + 10_000);
      assert.deepEqual(table.hosts, [os.hostname()]);
      client.bye();
      assert.ok(proxy.seen().length > 0);
      assert.equal(proxy.seen().includes(JOB_KEY), false);
      assert.equal(proxy.seen().includes('"hello"'), false);
    } finally {
      proxy.close();
    }
  });

  it("a client with another key fails the handshake with ERR_TSMPI_RENDEZVOUS; plain TCP gets nothing", async function () {
    server = await RendezvousServer.listen("tcp:127.0.0.1:0", 1, JOB_KEY, {}, { psk });
    await assert.rejects(
      RendezvousClient.connect(
        server.address,
        Date.now() + 10_000,
        { abort: () => {}, lost: () => {} },
        false,
        rendezvousPsk("another job"),
      ),
      (e: { code?: string }) => e.code === "ERR_TSMPI_RENDEZVOUS",
    );
    const m = /^tcp:(.+):(\d+)$/.exec(server.address)!;
    const plain = net.connect({ host: m[1]!, port: Number(m[2]) });
    const seen: Buffer[] = [];
    plain.on("data", (d) => seen.push(d));
    plain.on("error", () => {});
    plain.write(`${JSON.stringify(hello)}\n`);
    await new Promise<void>((r) => plain.on("close", () => r()));
    assert.equal(Buffer.concat(seen).includes("table"), false);
    assert.equal(server.joinedCount, 0);
  });

  it("the negotiated suite is ECDHE-PSK (a recorded handshake gives nothing to guess the key against offline)", async function () {
    server = await RendezvousServer.listen("tcp:127.0.0.1:0", 1, JOB_KEY, {}, { psk });
    const client = await RendezvousClient.connect(server.address, Date.now() + 10_000, { abort: () => {}, lost: () => {} }, false, psk);
    assert.equal(client.cipher, "ECDHE-PSK-CHACHA20-POLY1305");
    await client.join(hello, Date.now() + 10_000);
    client.bye();
  });

  it("a client holding the key but offering only plain PSK suites is refused by the coordinator", async function () {
    server = await RendezvousServer.listen("tcp:127.0.0.1:0", 1, JOB_KEY, {}, { psk });
    const m = /^tcp:(.+):(\d+)$/.exec(server.address)!;
    const outcome = await new Promise<string>((resolve) => {
      const s = tls.connect({
        host: m[1]!,
        port: Number(m[2]),
        ciphers: "PSK-AES256-GCM-SHA384:PSK-CHACHA20-POLY1305",
        minVersion: "TLSv1.2",
        maxVersion: "TLSv1.2",
        pskCallback: () => ({ psk, identity: PSK_IDENTITY }),
        checkServerIdentity: () => undefined,
      });
      s.on("secureConnect", () => {
        resolve(`connected with ${s.getCipher().name}`);
        s.destroy();
      });
      s.on("error", (e) => resolve(`refused: ${e.message}`));
      s.on("close", () => resolve("refused: closed"));
    });
    assert.match(outcome, /^refused/);
  });
});

describe("secrets stay out of command lines and child processes (issue 17)", function () {
  this.timeout(60_000);

  it("sshArgv with secrets: no -x value or key on the command line; the remote shell gets them all from stdin, intact", function () {
    const vars = { TSMPI_JOB_KEY: JOB_KEY, SECRET: 'it\'s a "secret" $HOME `x` \\ ;\nsecond line', EMPTY: "" };
    const argv = sshArgv({
      agent: ["ssh"],
      host: "node1",
      argv: [
        process.execPath,
        "-e",
        "process.stdout.write(JSON.stringify([process.env.TSMPI_JOB_KEY, process.env.SECRET, process.env.EMPTY, process.env.TSMPI_RANK]))",
      ],
      env: { TSMPI_RANK: "3" },
      secrets: true,
      wdir: os.tmpdir(),
      stdin: false,
    });
    const remote = argv[argv.length - 1]!;
    for (const v of [JOB_KEY, "secret", "second line"]) assert.ok(!argv.join(" ").includes(v), `the command line shows ${v}`);
    // What sshd's shell would do with it: run the remote command with the secret line on stdin.
    const r = spawnSync("sh", ["-c", remote], { input: `${secretLine(vars)}rank 0's stdin follows\n`, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [JOB_KEY, vars.SECRET, "", "3"]);
  });

  it("a rank's child process does not see TSMPI_JOB_KEY, nor does the rank's process.env (tsmpirun -n 2)", async function () {
    const r = await tsmpirun(["-n", "2", fixture("child-env.js")], { timeoutMs: 60_000 });
    await checkJob(r, 0, 5000);
    const lines = jsonLines(r.stdout);
    assert.equal(lines.length, 2, r.stdout + r.stderr);
    for (const l of lines) {
      assert.equal(l.initialKey, true, "the launcher did hand it over (else this test proves nothing)");
      assert.equal(l.inEnv, false, `rank ${l.rank}: process.env.TSMPI_JOB_KEY`);
      assert.deepEqual(l.inChild, [], `rank ${l.rank}'s child sees ${l.inChild}`);
    }
  });
});

describe("the heartbeat and kill commands take only process ids (issue 17)", function () {
  for (const pid of [-1, 0, 1, 1.5, Number.NaN, "1; kill -KILL -1"]) {
    it(`heartbeatScript refuses ${JSON.stringify(pid)}`, function () {
      assert.throws(
        () => heartbeatScript([1234, pid as number]),
        (e: { code?: string }) => e.code === "ERR_TSMPI_INTERNAL",
      );
    });
  }

  it("heartbeatScript takes real pids", function () {
    assert.match(heartbeatScript([1234, 5678]), /for p in 1234 5678;/);
  });
});

describe("single-copy reads: the Yama exception names only the job's launcher (issue 17)", function () {
  this.timeout(30_000);
  const kids: ChildProcess[] = [];
  afterEach(() => {
    for (const k of kids.splice(0)) k.kill("SIGKILL");
  });

  /**
   * A stand-in for a parent the ranks share: a process named `title` (its comm, as ps shows it)
   * that starts two children; resolves with its pid and theirs.
   */
  async function family(title: string): Promise<{ parent: number; children: [number, number] }> {
    const code = `process.title = ${JSON.stringify(title)};
      const { spawn } = require("node:child_process");
      const c = [0, 1].map(() => spawn("sleep", ["60"], { stdio: "ignore" }));
      console.log(JSON.stringify(c.map((k) => k.pid)));
      process.on("SIGTERM", () => { c.forEach((k) => k.kill("SIGKILL")); process.exit(0); });
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    kids.push(parent);
    const line = await new Promise<string>((resolve) => parent.stdout!.once("data", (d) => resolve(String(d))));
    const children = JSON.parse(line) as [number, number];
    kids.push({ kill: () => children.forEach((pid) => process.kill(pid, "SIGKILL")) } as unknown as ChildProcess);
    return { parent: parent.pid!, children };
  }

  it("ranks whose nearest common ancestor is not the job's (the system's sshd, for ranks started over ssh): no tracer, single copy off", async function () {
    const { children } = await family("sshd");
    assert.equal(peerTracer(children[0], [children[1]], 0), undefined);
  });

  it("the tsmpirun that started them (TSMPI_LAUNCHER_PID), or slurmstepd: named", async function () {
    const local = await family("node");
    assert.equal(peerTracer(local.children[0], [local.children[1]], local.parent), local.parent);
    const srun = await family("slurmstepd");
    assert.equal(peerTracer(srun.children[0], [srun.children[1]], 0), srun.parent);
  });

  it("a rank whose peers descend from it (a PoolExecutor's parent and its workers): the rank itself", async function () {
    const { children } = await family("node");
    assert.equal(peerTracer(process.pid, children, 0), process.pid);
  });
});
