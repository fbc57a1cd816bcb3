#!/usr/bin/env python3
"""Monte Carlo pi on mpi4py, the counterpart of examples/pi.ts for `npm run compare`:

    mpiexec -n 4 python3 scripts/compare/pi.py [samples]

N random points in the unit square are split across the ranks (the first N % size ranks take
one more); each rank counts those inside the quarter circle from its own seeded stream (Python's
`random.Random`, the Mersenne Twister, as an mpi4py user writes it); the counts are summed on
rank 0 with `reduce`, which prints the estimate and the time between two barriers, in the words
of examples/pi.ts, and checks the estimate is within 6 standard deviations of pi.
"""
import math
import random
import sys

from mpi4py import MPI

comm = MPI.COMM_WORLD
samples = int(sys.argv[1]) if len(sys.argv) > 1 else 4_000_000
if samples <= 0:
    raise SystemExit(f"samples must be a positive integer, got {sys.argv[1]}")
rank, size = comm.rank, comm.size
mine = samples // size + (1 if rank < samples % size else 0)
comm.Barrier()
t0 = MPI.Wtime()
draw = random.Random(12345 + 7919 * rank).random
inside = 0
for _ in range(mine):
    x = draw()
    y = draw()
    if x * x + y * y < 1:
        inside += 1
total = comm.reduce(inside, op=MPI.SUM, root=0)
drawn = comm.reduce(mine, op=MPI.SUM, root=0)
comm.Barrier()
elapsed = MPI.Wtime() - t0
if rank == 0:
    if drawn != samples:
        raise SystemExit(f"the ranks drew {drawn} samples, expected {samples}")
    pi = 4 * total / samples
    sigma = 4 * math.sqrt((math.pi / 4) * (1 - math.pi / 4) / samples)
    print(f"pi is approximately {pi:.6f} (error {pi - math.pi:.2e}) from {samples} samples")
    print(f"time between barriers: {elapsed * 1e3:.1f} ms on {size} rank{'s' if size > 1 else ''}")
    if abs(pi - math.pi) > 6 * sigma:
        raise SystemExit(f"estimate {pi} is more than 6 sigma ({sigma}) from pi")
