/**
 * Master and workers with `Spawn`: the ranks started by tsmpirun (the masters) spawn 3 workers
 * running this same file, which find their masters through `Comm.Get_parent()`. Both sides
 * `Merge` the intercommunicator into one intracommunicator (masters first), share out the sum of
 * k² for k = 1..n by rank, and add it up with `allreduce`; rank 0 checks the result against
 * n(n+1)(2n+1)/6. Then everyone disconnects, and the workers' own `COMM_WORLD` (3 ranks) says
 * goodbye with a barrier.
 *
 *   npx tsmpirun -n 2 examples/spawn.ts [n]
 */
import { fileURLToPath } from "node:url";
import { COMM_WORLD as world, Comm, Op, type Intercomm } from "tsmpi";

const WORKERS = 3;
const parent = Comm.Get_parent();
const n = Number(process.argv[2] ?? 100_000);
if (!Number.isInteger(n) || n <= 0) throw new Error(`n must be a positive integer, got ${process.argv[2]}`);

// Masters spawn the workers (this file, with the same n); workers already have their intercommunicator.
const inter: Intercomm = parent ?? (await world.Spawn(fileURLToPath(import.meta.url), [String(n)], WORKERS));
// Masters take the low ranks of the merged communicator, workers the high ones.
const all = await inter.Merge(parent !== null);

let mine = 0;
for (let k = all.rank + 1; k <= n; k += all.size) mine += k * k;
const total = await all.allreduce(mine, Op.SUM);

if (!parent && all.rank === 0) {
  const expected = (n * (n + 1) * (2 * n + 1)) / 6;
  console.log(
    `sum of k^2 for k = 1..${n} on ${world.size} master${world.size > 1 ? "s" : ""} and ${inter.remote_size} spawned workers: ${total}`,
  );
  if (total !== expected) throw new Error(`expected ${expected}, got ${total}`);
  console.log("identical to n(n+1)(2n+1)/6");
}
await inter.Disconnect();
if (parent) await world.barrier(); // the workers' own COMM_WORLD, without the masters
