// Tests for launcher/hostfile.ts: -H specs, Open MPI / Hydra hostfiles, rank mapping.
import assert from "node:assert/strict";
import { mapRanks, parseHostfile, parseHostSpec, type HostSlots, type MapOptions } from "../launcher/hostfile.js";
import { TsmpiError } from "../lib/errors.js";

function isArgError(err: unknown): boolean {
  return err instanceof TsmpiError && err.code === "ERR_TSMPI_ARG";
}

const two = (a: number, b: number): HostSlots[] => [
  { host: "node1", slots: a },
  { host: "node2", slots: b },
];

describe("hostfile", () => {
  describe("parseHostSpec", () => {
    const cases: [string, HostSlots[]][] = [
      ["node1:2,node2:2", two(2, 2)],
      ["node1,node2", two(1, 1)],
      ["node1,node1,node2", two(2, 1)],
      ["node1:2,node2,node1:3", two(5, 1)],
      [" node1 , node2:4 ", two(1, 4)],
      ["localhost", [{ host: "localhost", slots: 1 }]],
      ["n-1.example.org:16", [{ host: "n-1.example.org", slots: 16 }]],
    ];
    for (const [spec, want] of cases) {
      it(`parses ${JSON.stringify(spec)}`, () => assert.deepEqual(parseHostSpec(spec), want));
    }
    for (const spec of [
      "",
      " ",
      "node1,",
      ",node1",
      "node1:",
      "node1:0",
      "node1:x",
      "node1:-1",
      "node1:1.5",
      ":2",
      "a b",
      "node[1-2]",
      "node1:2:3",
    ]) {
      it(`rejects ${JSON.stringify(spec)}`, () => assert.throws(() => parseHostSpec(spec), isArgError));
    }
  });

  describe("parseHostfile", () => {
    it("reads Open MPI, Hydra and bare lines with comments", () => {
      const text = [
        "# cluster A",
        "node1 slots=4",
        "node2:2   # hydra style",
        "",
        "   node3   ",
        "node4 slots=2 max_slots=8",
        "node5 max-slots=3",
        "\t# indented comment",
      ].join("\n");
      assert.deepEqual(parseHostfile(text), [
        { host: "node1", slots: 4 },
        { host: "node2", slots: 2 },
        { host: "node3", slots: 1 },
        { host: "node4", slots: 2 },
        { host: "node5", slots: 1 },
      ]);
    });

    it("merges repeated hosts at their first position (slots add)", () => {
      assert.deepEqual(parseHostfile("node1\nnode2 slots=2\nnode1:3\nnode1 slots=1\n"), two(5, 2));
    });

    it("accepts CRLF line ends and an empty file", () => {
      assert.deepEqual(parseHostfile("node1 slots=2\r\nnode2\r\n"), two(2, 1));
      assert.deepEqual(parseHostfile(""), []);
      assert.deepEqual(parseHostfile("# nothing\n\n"), []);
    });

    const bad: string[] = [
      "node1 slots=x",
      "node1\nnode2\nnode3 slots=x",
      "node1 slots=0",
      "node1 slots=",
      "node1 slots",
      "node1 slots=2 slots=3",
      "node1 cpus=2",
      "node1 max_slots=x",
      "node1:x",
      "node1:0",
      "node1:2 slots=2",
      "\n\nnode[1-2]",
      "node1 = 2",
    ];
    for (const text of bad) {
      it(`rejects ${JSON.stringify(text)}`, () => assert.throws(() => parseHostfile(text), isArgError));
    }
  });

  describe("mapRanks", () => {
    const slot: MapOptions = { mapBy: "slot", oversubscribe: false };
    const node: MapOptions = { mapBy: "node", oversubscribe: false };
    const cases: [string, HostSlots[], number, MapOptions, string[]][] = [
      ["slot fills node1 first", two(2, 2), 4, slot, ["node1", "node1", "node2", "node2"]],
      ["slot with fewer ranks than slots", two(2, 2), 3, slot, ["node1", "node1", "node2"]],
      ["slot, uneven slots", two(3, 1), 4, slot, ["node1", "node1", "node1", "node2"]],
      ["node deals round-robin", two(2, 2), 4, node, ["node1", "node2", "node1", "node2"]],
      ["node skips full hosts", two(3, 1), 4, node, ["node1", "node2", "node1", "node1"]],
      ["node with fewer ranks", two(3, 1), 2, node, ["node1", "node2"]],
      ["ppn replaces slots (blocks)", two(1, 1), 4, { ...slot, ppn: 2 }, ["node1", "node1", "node2", "node2"]],
      ["ppn caps a big host", two(8, 8), 4, { ...slot, ppn: 2 }, ["node1", "node1", "node2", "node2"]],
      ["ppn with map-by node", two(1, 1), 4, { ...node, ppn: 2 }, ["node1", "node2", "node1", "node2"]],
      [
        "oversubscribe repeats the slot pattern",
        two(2, 1),
        7,
        { ...slot, oversubscribe: true },
        ["node1", "node1", "node2", "node1", "node1", "node2", "node1"],
      ],
      [
        "oversubscribe repeats the node pattern",
        two(2, 1),
        5,
        { ...node, oversubscribe: true },
        ["node1", "node2", "node1", "node1", "node2"],
      ],
      [
        "oversubscribe with ppn wraps in blocks (Hydra)",
        two(1, 1),
        6,
        { ...slot, ppn: 2, oversubscribe: true },
        ["node1", "node1", "node2", "node2", "node1", "node1"],
      ],
      ["oversubscribe not needed", two(2, 2), 4, { ...slot, oversubscribe: true }, ["node1", "node1", "node2", "node2"]],
      ["one rank", two(2, 2), 1, node, ["node1"]],
    ];
    for (const [name, hosts, np, opts, want] of cases) {
      it(name, () => assert.deepEqual(mapRanks(hosts, np, opts), want));
    }

    it("does not build huge passes for huge slot counts", () => {
      assert.deepEqual(mapRanks(two(1e9, 1e9), 2, node), ["node1", "node2"]);
    });

    it("rejects more ranks than slots without oversubscribe", () => {
      assert.throws(() => mapRanks(two(2, 2), 5, slot), isArgError);
      assert.throws(() => mapRanks(two(2, 2), 5, node), isArgError);
      assert.throws(() => mapRanks(two(8, 8), 5, { ...slot, ppn: 2 }), isArgError);
    });

    const badArgs: [string, () => unknown][] = [
      ["no hosts", () => mapRanks([], 1, slot)],
      ["np 0", () => mapRanks(two(1, 1), 0, slot)],
      ["np 1.5", () => mapRanks(two(1, 1), 1.5, slot)],
      ["np NaN", () => mapRanks(two(1, 1), NaN, slot)],
      ["ppn 0", () => mapRanks(two(1, 1), 1, { ...slot, ppn: 0 })],
      ["bad mapBy", () => mapRanks(two(1, 1), 1, { mapBy: "socket" as "slot", oversubscribe: false })],
      ["bad oversubscribe", () => mapRanks(two(1, 1), 1, { mapBy: "slot", oversubscribe: "yes" as unknown as boolean })],
      ["no options", () => mapRanks(two(1, 1), 1, undefined as unknown as MapOptions)],
      ["bad slots", () => mapRanks([{ host: "a", slots: 0 }], 1, slot)],
    ];
    for (const [name, call] of badArgs) {
      it(`rejects ${name}`, () => assert.throws(call, isArgError));
    }
  });
});
