/**
 * Hello world: every rank prints one line, in rank order (a token passed from rank to rank
 * decides whose turn it is), and checks that the token it got names its own rank.
 *
 *   npx tsmpirun -n 4 examples/hello.ts
 */
import { COMM_WORLD as comm, processorName } from "tsmpi";

const { rank, size } = comm;
if (rank > 0) {
  const turn = await comm.recv(rank - 1, 0);
  if (turn !== rank) throw new Error(`rank ${rank} got the turn of rank ${turn}`);
}
console.log(`Hello, World! I am process ${rank} of ${size} on ${processorName()}.`);
if (rank < size - 1) await comm.send(rank + 1, rank + 1, 0);
