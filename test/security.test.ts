/**
 * Traffic between hosts is encrypted and authenticated (issue 11, point 1), checked on real
 * sockets over loopback TCP: two ZeroMQ transports with the job's CURVE keys, a recording TCP
 * proxy between them (what someone on the network sees), and outsiders without the keys that
 * try to connect, read and inject; the rendezvous over TLS-PSK the same way. Each check also
 * runs with encryption off, where it must see the opposite, so none can pass by accident.
 */
import assert from "node:assert/strict";
import net from "node:net";
import os from "node:os";
import { createRequire } from "node:module";
import type * as Zmq from "zeromq";
import { curveKeys, rendezvousPsk } from "../lib/job/keys.js";
import { RendezvousClient, RendezvousServer, type Hello } from "../lib/job/rendezvous.js";
import { ZmqTransport } from "../lib/transport/zmq.js";

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
    client.on("data", (d) => (chunks.push(d), upstream.write(d)));
    upstream.on("data", (d) => (chunks.push(d), client.write(d)));
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
      receiver = await ZmqTransport.bind(1, ["tcp://127.0.0.1:*"], (frames) => void got.push(frames), (err) => assert.fail(String(err)), { curve });
      sender = await ZmqTransport.bind(0, ["tcp://127.0.0.1:*"], () => {}, (err) => assert.fail(String(err)), { curve });
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

    it(`an outsider without keys ${secure ? "cannot connect or inject" : "injects freely"}`, async function () {
      const outsider = new zmq.Dealer({ linger: 0 });
      outsider.connect(receiver.endpoints[0]!);
      await outsider.send(Buffer.from("injected"));
      // A rank with the keys, sent after the outsider: once it is in, the outsider had its chance.
      sender.send(1, [Buffer.from("legit")]);
      assert.ok(await until(() => got.some((f) => f[0]!.toString() === "legit"), 10_000));
      await until(() => got.length >= 2, secure ? 500 : 5000);
      assert.equal(got.some((f) => f[0]!.toString() === "injected"), !secure);
      outsider.close();
    });

    if (secure) {
      it("an outsider with CURVE keys of its own (another job's) cannot connect either", async function () {
        const other = curveKeys("another job's key, not this one's");
        const outsider = new zmq.Dealer({ linger: 0, curveServerKey: other.publicKey, curvePublicKey: other.publicKey, curveSecretKey: other.secretKey });
        outsider.connect(receiver.endpoints[0]!);
        void outsider.send(Buffer.from("injected with wrong keys"));
        sender.send(1, [Buffer.from("legit")]);
        assert.ok(await until(() => got.some((f) => f[0]!.toString() === "legit"), 10_000));
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(got.length, 1, "only the rank's message");
        outsider.close();
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
      const client = await RendezvousClient.connect(`tcp:${proxy.endpoint.slice(6)}`, Date.now() + 10_000, { abort: () => {}, lost: () => {} }, false, psk);
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
      RendezvousClient.connect(server.address, Date.now() + 10_000, { abort: () => {}, lost: () => {} }, false, rendezvousPsk("another job")),
      (e: { code?: string }) => e.code === "ERR_TSMPI_RENDEZVOUS",
    );
    const m = /^tcp:(.+):(\d+)$/.exec(server.address)!;
    const plain = net.connect({ host: m[1]!, port: Number(m[2]) });
    const seen: Buffer[] = [];
    plain.on("data", (d) => seen.push(d));
    plain.on("error", () => {});
    plain.write(JSON.stringify(hello) + "\n");
    await new Promise<void>((r) => plain.on("close", () => r()));
    assert.equal(Buffer.concat(seen).includes("table"), false);
    assert.equal(server.joinedCount, 0);
  });
});
