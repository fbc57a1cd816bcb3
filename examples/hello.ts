/**
 * Hello world: every rank prints one line, in rank order: a token passed from rank to rank
 * (a one-element typed array, moved by the buffer tier) decides whose turn it is, and each
 * rank checks that the token it got names its own rank.
 *
 *   npx tsmpirun -n 4 examples/hello.ts
 */
import { COMM_WORLD as comm, processorName } from "tsmpi";

const { rank, size } = comm;
const token = new Int32Array(1);
if (rank > 0) {
  await comm.Recv(token, rank - 1);
  if (token[0] !== rank) throw new Error(`rank ${rank} got the turn of rank ${token[0]}`);
}
console.log(`Hello, World! I am process ${rank} of ${size} on ${processorName()}.`);
if (rank < size - 1) await comm.Send(new Int32Array([rank + 1]), rank + 1);
