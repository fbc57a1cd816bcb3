/**
 * Groups and the communicator constructors that use them, translated from mpi4py's
 * test/test_group.py (BaseTestGroup on GROUP_EMPTY, COMM_SELF's and COMM_WORLD's groups, and
 * here also the group of the communicator under test) and the Get_group / Clone / Idup /
 * Get_name / Create / Create_group / Split_type / PyProps parts of test/test_comm.py, assertion
 * for assertion where the semantics carry over, plus checks of what those leave open (set
 * operations on real subsets, Range_incl strides, Create on subgroups, bad input).
 */
import assert from "node:assert/strict";
import type { Group } from "tsmpi";
import type { Case, CaseContext } from "./types.js";

type Mpi = CaseContext["mpi"];
type Comm = CaseContext["comm"];

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** The groups BaseTestGroup runs on: GROUP_EMPTY, COMM_SELF's, COMM_WORLD's, and the communicator's. */
function groups(mpi: Mpi, comm: Comm): [string, Group, boolean][] {
  return [
    ["GROUP_EMPTY", mpi.GROUP_EMPTY, true],
    ["COMM_SELF group", mpi.COMM_SELF.Get_group(), false],
    ["COMM_WORLD group", mpi.COMM_WORLD.Get_group(), false],
    ["comm group", comm.Get_group(), false],
  ];
}

/** Runs `body` on each group of {@link groups}, naming the group in a failure. */
async function eachGroup(t: CaseContext, body: (g: Group, empty: boolean) => void): Promise<void> {
  for (const [name, g, empty] of groups(t.mpi, t.comm)) {
    try {
      body(g, empty);
    } catch (err) {
      (err as Error).message = `${name}: ${(err as Error).message}`;
      throw err;
    }
  }
}

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: { code?: string }) => e.code === code, `expected ${code}`);
}

export const cases: Record<string, Case> = {
  // ---------------------------------------------------------------- test_group.py
  async "group: testProperties"(t) {
    await eachGroup(t, (g) => {
      assert.equal(g.Get_size(), g.size);
      assert.equal(g.Get_rank(), g.rank);
    });
  },
  async "group: testCompare"(t) {
    const { mpi } = t;
    await eachGroup(t, (g) => {
      const world = mpi.COMM_WORLD.Get_group();
      assert.ok([mpi.IDENT, mpi.SIMILAR, mpi.UNEQUAL].includes(mpi.Group.Compare(g, world)));
      world.Free();
      assert.equal(mpi.Group.Compare(g, g), mpi.IDENT);
      assert.equal(g.Compare(g), mpi.IDENT);
    });
  },
  async "group: testDup"(t) {
    await eachGroup(t, (g) => {
      const d = g.Dup();
      assert.equal(t.mpi.Group.Compare(d, g), t.mpi.IDENT);
      d.Free();
    });
  },
  async "group: testUnion"(t) {
    const { Group, GROUP_EMPTY, IDENT } = t.mpi;
    await eachGroup(t, (g) => {
      assert.equal(Group.Compare(Group.Union(GROUP_EMPTY, g), g), IDENT);
      assert.equal(Group.Compare(Group.Union(g, GROUP_EMPTY), g), IDENT);
      assert.equal(Group.Compare(Group.Union(g, g), g), IDENT);
    });
  },
  async "group: testDifference"(t) {
    const { Group, GROUP_EMPTY, IDENT } = t.mpi;
    await eachGroup(t, (g) => {
      assert.equal(Group.Compare(Group.Difference(GROUP_EMPTY, g), GROUP_EMPTY), IDENT);
      assert.equal(Group.Compare(Group.Difference(g, GROUP_EMPTY), g), IDENT);
      assert.equal(Group.Compare(Group.Difference(g, g), GROUP_EMPTY), IDENT);
    });
  },
  async "group: testIntersection"(t) {
    const { Group, GROUP_EMPTY, IDENT } = t.mpi;
    await eachGroup(t, (g) => {
      assert.equal(Group.Compare(Group.Intersection(GROUP_EMPTY, g), GROUP_EMPTY), IDENT);
      assert.equal(Group.Compare(Group.Intersection(g, GROUP_EMPTY), GROUP_EMPTY), IDENT);
      assert.equal(Group.Compare(Group.Intersection(g, g), g), IDENT);
    });
  },
  async "group: testIncl / testExcl"(t) {
    const { Group, GROUP_EMPTY, IDENT } = t.mpi;
    await eachGroup(t, (g) => {
      assert.equal(Group.Compare(g.Incl([]), GROUP_EMPTY), IDENT);
      assert.equal(Group.Compare(g.Excl([]), g), IDENT);
    });
  },
  async "group: testRangeIncl / testRangeExcl"(t) {
    const { Group, GROUP_EMPTY, IDENT } = t.mpi;
    await eachGroup(t, (g, empty) => {
      if (empty) return;
      assert.equal(Group.Compare(g.Range_incl([]), GROUP_EMPTY), IDENT);
      assert.equal(Group.Compare(g.Range_incl([[0, g.size - 1, 1]]), g), IDENT);
      assert.equal(Group.Compare(g.Range_excl([]), g), IDENT);
      assert.equal(Group.Compare(g.Range_excl([[0, g.size - 1, 1]]), GROUP_EMPTY), IDENT);
    });
  },
  async "group: testTranslRanks"(t) {
    const { Group, UNDEFINED } = t.mpi;
    await eachGroup(t, (g) => {
      const ranks1 = [...range(g.size), ...range(g.size), ...range(g.size)];
      assert.deepEqual(Group.Translate_ranks(g, ranks1, g), ranks1);
      assert.deepEqual(g.Translate_ranks(null, g), range(g.size));
      const toWorld = g.Translate_ranks();
      assert.equal(toWorld.length, g.size);
      assert.ok(!toWorld.includes(UNDEFINED));
    });
  },
  async "group: testTranslRanksWorld"(t) {
    const { Group, COMM_WORLD } = t.mpi;
    await eachGroup(t, (g, empty) => {
      const ranks1 = [...range(g.size), ...range(g.size), ...range(g.size)];
      const ranks2 = Group.Translate_ranks(g, ranks1);
      assert.equal(ranks2.length, ranks1.length);
      if (!empty) {
        assert.ok(Math.min(...ranks2) >= 0);
        assert.ok(Math.max(...ranks2) < COMM_WORLD.Get_size());
      }
    });
  },
  async "group: testTranslRanksProcNull"(t) {
    const { Group, PROC_NULL } = t.mpi;
    await eachGroup(t, (g, empty) => {
      if (empty) return;
      const ranks1 = new Array<number>(10).fill(PROC_NULL);
      assert.deepEqual(Group.Translate_ranks(g, ranks1, g), ranks1);
    });
  },
  async "group: testTranslRanksGroupEmpty"(t) {
    const { Group, GROUP_EMPTY, UNDEFINED } = t.mpi;
    await eachGroup(t, (g, empty) => {
      if (empty) return;
      for (const r of Group.Translate_ranks(g, [...range(g.size), ...range(g.size)], GROUP_EMPTY)) assert.equal(r, UNDEFINED);
    });
  },
  async "group: TestGroupEmpty / TestGroupSelf / TestGroupWorld size and rank"(t) {
    const { mpi } = t;
    assert.equal(mpi.GROUP_EMPTY.Get_size(), 0);
    assert.equal(mpi.GROUP_EMPTY.Get_rank(), mpi.UNDEFINED);
    const self = mpi.COMM_SELF.Get_group();
    assert.equal(self.Get_size(), 1);
    assert.equal(self.Get_rank(), 0);
    self.Free();
    const world = mpi.COMM_WORLD.Get_group();
    assert.ok(world.Get_size() >= 1);
    assert.ok(world.Get_rank() >= 0 && world.Get_rank() < world.Get_size());
    world.Free();
  },
  // beyond mpi4py's tests: real subsets, orders, strides, errors
  async "group: set operations on subsets keep MPI's order"(t) {
    const { mpi, comm } = t;
    const g = comm.Get_group();
    const n = g.size;
    const evens = g.Range_incl([[0, n - 1, 2]]);
    const odds = n > 1 ? g.Range_incl([[1, n - 1, 2]]) : mpi.GROUP_EMPTY;
    assert.equal(evens.size, Math.ceil(n / 2));
    assert.equal(odds.size, Math.floor(n / 2));
    const rev = g.Incl(range(n).reverse());
    assert.equal(mpi.Group.Compare(rev, g), n > 1 ? mpi.SIMILAR : mpi.IDENT);
    assert.equal(rev.rank, n - 1 - comm.rank);
    assert.equal(evens.rank, comm.rank % 2 === 0 ? comm.rank / 2 : mpi.UNDEFINED);
    // union: the first group's order, then the second's new members
    const u = mpi.Group.Union(odds, evens);
    assert.deepEqual(u.Translate_ranks(null, g), [...range(n).filter((r) => r % 2 === 1), ...range(n).filter((r) => r % 2 === 0)]);
    assert.equal(mpi.Group.Compare(mpi.Group.Intersection(evens, odds), mpi.GROUP_EMPTY), mpi.IDENT);
    assert.equal(mpi.Group.Compare(mpi.Group.Difference(g, odds), evens), mpi.IDENT);
    assert.equal(mpi.Group.Compare(g.Excl(range(n).filter((r) => r % 2 === 1)), evens), mpi.IDENT);
    // a negative stride runs backwards, last included
    assert.deepEqual(g.Range_incl([[n - 1, 0, -1]]).Translate_ranks(null, g), range(n).reverse());
    assert.equal(mpi.Group.Compare(g.Range_excl([[n - 1, 0, -2]]), g.Excl(range(n).filter((r) => (n - 1 - r) % 2 === 0))), mpi.IDENT);
    // translating to a subgroup: UNDEFINED for the others
    assert.deepEqual(
      g.Translate_ranks(null, evens),
      range(n).map((r) => (r % 2 === 0 ? r / 2 : mpi.UNDEFINED)),
    );
  },
  async "group: bad input throws TsmpiError with a code"(t) {
    const { mpi, comm } = t;
    const g = comm.Get_group();
    throwsCode(() => g.Incl([g.size]), "ERR_TSMPI_RANK");
    throwsCode(() => g.Incl([0, 0]), "ERR_TSMPI_RANK");
    throwsCode(() => g.Excl([-1]), "ERR_TSMPI_RANK");
    throwsCode(() => g.Range_incl([[0, 0, 0]]), "ERR_TSMPI_ARG");
    throwsCode(() => g.Range_incl([[0, g.size, 1]]), "ERR_TSMPI_RANK");
    throwsCode(() => g.Translate_ranks([g.size]), "ERR_TSMPI_RANK");
    throwsCode(() => mpi.Group.Union(g, 7 as never), "ERR_TSMPI_ARG");
    const d = g.Dup();
    d.Free();
    throwsCode(() => d.size, "ERR_TSMPI_ARG");
    mpi.GROUP_EMPTY.Free(); // a no-op: GROUP_EMPTY stays usable
    assert.equal(mpi.GROUP_EMPTY.size, 0);
  },

  // ---------------------------------------------------------------- test_comm.py
  async "comm: testGroup"(t) {
    const { comm } = t;
    const group = comm.Get_group();
    assert.equal(comm.Get_size(), group.Get_size());
    assert.equal(comm.Get_rank(), group.Get_rank());
    group.Free();
  },
  async "comm: testCloneFree"(t) {
    const c = t.comm.Clone();
    assert.equal(t.comm.Compare(c), t.mpi.CONGRUENT);
    c.Free();
    await assert.rejects(c.barrier(), { code: "ERR_TSMPI_COMM" });
  },
  async "comm: testIDup"(t) {
    const [c, request] = t.comm.Idup();
    await request.wait();
    const ccmp = t.mpi.Comm.Compare(t.comm, c);
    c.Free();
    assert.equal(ccmp, t.mpi.CONGRUENT);
  },
  async "comm: an Idup communicator is isolated and usable"(t) {
    const { comm } = t;
    const [c, req] = comm.Idup();
    req.wait();
    const right = (comm.rank + 1) % comm.size;
    const left = (comm.rank - 1 + comm.size) % comm.size;
    const [a, b] = await Promise.all([
      c.sendrecv(`dup ${comm.rank}`, right, 3, left, 3),
      comm.sendrecv(`parent ${comm.rank}`, right, 3, left, 3),
    ]);
    assert.equal(a, `dup ${left}`);
    assert.equal(b, `parent ${left}`);
    c.Free();
  },
  async "comm: testGetSetName"(t) {
    const { comm, mpi } = t;
    const name = comm.Get_name();
    comm.Set_name("mycomm");
    assert.equal(comm.Get_name(), "mycomm");
    comm.Set_name(name);
    assert.equal(comm.Get_name(), name);
    const current = comm.name;
    comm.name = current;
    assert.equal(mpi.COMM_WORLD.name, "MPI_COMM_WORLD");
    assert.equal(mpi.COMM_SELF.name, "MPI_COMM_SELF");
    assert.throws(() => comm.Set_name(3 as never), { code: "ERR_TSMPI_ARG" });
  },
  async "comm: testIsInter / testPyProps"(t) {
    const { comm, mpi } = t;
    assert.equal(typeof comm.Is_inter(), "boolean");
    assert.equal(comm.Get_size(), comm.size);
    assert.equal(comm.Get_rank(), comm.rank);
    assert.equal(comm.Is_intra(), comm.is_intra);
    assert.equal(comm.Is_inter(), comm.is_inter);
    assert.equal(comm.Get_topology(), comm.topology);
    assert.equal(comm.topology, mpi.UNDEFINED);
    assert.equal(comm.is_topo, false);
    const group = comm.group;
    assert.ok(group instanceof mpi.Group);
    group.Free();
  },
  async "comm: testCreate"(t) {
    const { comm, mpi } = t;
    const group = comm.Get_group();
    const c = comm.Create(group)!;
    assert.equal(mpi.Comm.Compare(comm, c), mpi.CONGRUENT);
    assert.equal(comm.Compare(c), mpi.CONGRUENT);
    c.Free();
    group.Free();
  },
  async "comm: testCreateGroup"(t) {
    const { comm, mpi } = t;
    const group = comm.Get_group();
    const c = comm.Create_group(group);
    const ccmp = comm.Compare(c);
    c.Free();
    assert.equal(ccmp, mpi.CONGRUENT);
    group.Free();
  },
  async "comm: Create on a subgroup: members talk, the others get COMM_NULL"(t) {
    const { comm, mpi } = t;
    const evens = comm.group.Range_incl([[0, comm.size - 1, 2]]);
    const sub = comm.Create(evens);
    if (comm.rank % 2 === 1) {
      assert.equal(sub, mpi.COMM_NULL);
    } else {
      assert.ok(sub);
      assert.equal(sub.size, Math.ceil(comm.size / 2));
      assert.equal(sub.rank, comm.rank / 2);
      assert.deepEqual(
        await sub.allgather(comm.rank),
        range(comm.size).filter((r) => r % 2 === 0),
      );
      sub.Free();
    }
    // the group's order is the new communicator's order
    const rev = comm.Create(comm.group.Incl(range(comm.size).reverse()))!;
    assert.equal(rev.rank, comm.size - 1 - comm.rank);
    assert.deepEqual(await rev.allgather(comm.rank), range(comm.size).reverse());
    // disjoint groups at once (MPI 2.2): each rank passes the group it is in
    const mine = comm.group.Range_incl([[comm.rank % 2, comm.size - 1, 2]]);
    const part = comm.Create(mine)!;
    assert.deepEqual(
      await part.allgather(comm.rank),
      range(comm.size).filter((r) => r % 2 === comm.rank % 2),
    );
    assert.equal(comm.Create(mpi.GROUP_EMPTY), null);
    assert.throws(() => comm.Create(1 as never), { code: "ERR_TSMPI_ARG" });
  },
  async "comm: Create_group is collective over the group only"(t) {
    const { comm } = t;
    if (comm.rank % 2 === 0) {
      const evens = comm.group.Range_incl([[0, comm.size - 1, 2]]);
      const a = comm.Create_group(evens, 5);
      const b = comm.Create_group(evens, 5); // a second call with one tag: another context
      const [x, y] = await Promise.all([a.allgather(`a${comm.rank}`), b.allgather(`b${comm.rank}`)]);
      assert.deepEqual(
        x,
        range(comm.size)
          .filter((r) => r % 2 === 0)
          .map((r) => `a${r}`),
      );
      assert.deepEqual(
        y,
        range(comm.size)
          .filter((r) => r % 2 === 0)
          .map((r) => `b${r}`),
      );
    }
    // the odd ranks did not call it, and the parent still works for all
    assert.equal(await comm.allreduce(1), comm.size);
    const self = comm.group.Incl([comm.rank]);
    assert.equal(comm.Create_group(self).size, 1);
    if (comm.size > 1) assert.throws(() => comm.Create_group(comm.group.Excl([comm.rank])), { code: "ERR_TSMPI_ARG" });
  },
  async "comm: testSplitTypeShared"(t) {
    const { comm, mpi } = t;
    (await mpi.COMM_SELF.Split_type(mpi.COMM_TYPE_SHARED))!.Free();
    assert.equal(await comm.Split_type(mpi.UNDEFINED), mpi.COMM_NULL);
    const shared = await comm.Split_type(mpi.COMM_TYPE_SHARED);
    assert.notEqual(shared, mpi.COMM_NULL);
    if (comm.size === 1) {
      assert.equal(shared!.size, 1);
      assert.equal(shared!.rank, 0);
    }
    shared!.Free();
    for (let root = 0; root < comm.size; root++) {
      const c = await comm.Split_type(comm.rank === root ? mpi.COMM_TYPE_SHARED : mpi.UNDEFINED);
      if (comm.rank === root) {
        assert.notEqual(c, mpi.COMM_NULL);
        assert.equal(c!.size, 1);
        assert.equal(c!.rank, 0);
        c!.Free();
      } else {
        assert.equal(c, mpi.COMM_NULL);
      }
    }
  },
  async "comm: Split_type(COMM_TYPE_SHARED) holds exactly the ranks of this host, by key"(t) {
    const { comm, mpi } = t;
    const host = mpi.processorName();
    const hosts = await comm.allgather(host);
    const here = range(comm.size).filter((r) => hosts[r] === host);
    const node = (await comm.Split_type(mpi.COMM_TYPE_SHARED, -comm.rank))!;
    assert.equal(node.size, here.length);
    assert.deepEqual(await node.allgather(comm.rank), [...here].reverse());
    // every rank of one host is on one node communicator: its size is the local size
    if (comm === mpi.COMM_WORLD) assert.equal(node.size, mpi.localRank().size);
    await assert.rejects(comm.Split_type(7), { code: "ERR_TSMPI_ARG" });
  },
  // mpi4py's test_environ.py TestWorldAttrs (testAppNum), and where Open MPI keeps the attributes
  async "comm: Get_attr(APPNUM), Get_attr(TAG_UB): COMM_WORLD's and its dups', no other's"(t) {
    const { comm, mpi } = t;
    const world = comm.Get_group().Compare(mpi.COMM_WORLD.Get_group()) === mpi.IDENT && comm !== mpi.COMM_SELF;
    for (const c of [comm, comm.dup(), comm.Clone(), comm.Idup()[0]]) {
      assert.equal(c.Get_attr(mpi.APPNUM), world ? 0 : null);
      assert.equal(c.Get_attr(mpi.TAG_UB), world ? mpi.TAG_UB : null);
    }
    assert.ok(mpi.TAG_UB >= 32767);
    assert.equal((await comm.split(0))!.Get_attr(mpi.APPNUM), null);
    assert.equal(mpi.COMM_SELF.Get_attr(mpi.APPNUM), null);
    for (const bad of [12345, -1, 0.5, "APPNUM"]) assert.throws(() => comm.Get_attr(bad as number), { code: "ERR_TSMPI_ARG" });
  },
};
