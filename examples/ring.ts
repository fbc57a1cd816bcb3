/**
 * Ring: a token travels around the ring of ranks several times; each rank adds its rank to the
 * token's path. Rank 0 checks that the token visited every rank, in order, on every lap.
 *
 *   npx tsmpirun -n 4 examples/ring.ts [laps]
 */
import { COMM_WORLD as comm, wtime } from "tsmpi";

interface Token {
  lap: number;
  path: number[];
}

const laps = Number(process.argv[2] ?? 3);
const { rank, size } = comm;
const next = (rank + 1) % size;
const prev = (rank - 1 + size) % size;

const start = wtime();
let token: Token = { lap: 0, path: [] };
for (let lap = 0; lap < laps; lap++) {
  if (rank === 0) {
    await comm.send({ lap, path: [0] } satisfies Token, next, lap);
    token = await comm.recv<Token>(prev, lap);
    const expected = Array.from({ length: size }, (_, r) => r);
    if (token.lap !== lap || token.path.join() !== expected.join()) {
      throw new Error(`lap ${lap}: token came back with path [${token.path}], expected [${expected}]`);
    }
  } else {
    token = await comm.recv<Token>(prev, lap);
    token.path.push(rank);
    await comm.send(token, next, lap);
  }
}
if (rank === 0) {
  console.log(
    `ring: the token went ${laps} laps around ${size} ranks (path ${token.path.join(" -> ")} -> 0) in ${((wtime() - start) * 1e3).toFixed(2)} ms`,
  );
}
