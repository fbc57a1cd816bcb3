#!/usr/bin/env python3
"""The collective latencies of `tsmpirun -m tsmpi/bench <name>`, measured the same way on mpi4py,
for side-by-side runs:

    mpiexec -n 4 python3 scripts/mpi4py-bench.py allreduce -m 8388608 -n 8388608
    mpiexec -n 4 --mca btl tcp,self python3 scripts/mpi4py-bench.py barrier   # Open MPI over TCP

Per size: every iteration starts after a barrier; each rank times the call; the figure is the
median over iterations of the slowest rank's time. Float64 buffers (the standard `array`
module, no NumPy needed). `--object` uses the lowercase (pickled) calls on a float at 8 B, on a
list of floats above (where allreduce concatenates, as Python's + does: compare 8 B only).
"""
import argparse
import statistics
import time
from array import array

from mpi4py import MPI


def sizes(lo, hi):
    s = max(lo, 1)
    while s <= hi:
        yield s
        s *= 2


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name", choices=["barrier", "bcast", "allreduce", "allgather"])
    p.add_argument("-m", "--min-size", type=int, default=8)
    p.add_argument("-n", "--max-size", type=int, default=8 * 1024 * 1024)
    p.add_argument("-l", "--loop", type=int, default=200)
    p.add_argument("-s", "--skip", type=int, default=20)
    p.add_argument("--object", action="store_true")
    a = p.parse_args()
    comm = MPI.COMM_WORLD
    if comm.rank == 0:
        tier = " (object tier)" if a.object else ""
        print(f"# mpi4py {a.name}{tier}: {comm.size} processes; latency per call = median over iterations of the slowest rank")
        print("#   Size [B]  Latency [us]  Iterations")
    todo = [0] if a.name == "barrier" else [b for b in sizes(a.min_size, a.max_size) if b >= 8]
    for nbytes in todo:
        n = max(1, nbytes // 8)
        send = array("d", [comm.rank + 1.0]) * n
        recv = array("d", bytes(8 * n * (comm.size if a.name == "allgather" else 1)))
        value = comm.rank + 1.0 if n == 1 else list(send)
        call = {
            "barrier": comm.Barrier,
            "bcast": (lambda: comm.bcast(value, 0)) if a.object else (lambda: comm.Bcast(send, 0)),
            "allreduce": (lambda: comm.allreduce(value)) if a.object else (lambda: comm.Allreduce(send, recv)),
            "allgather": (lambda: comm.allgather(value)) if a.object else (lambda: comm.Allgather(send, recv)),
        }[a.name]
        iters = min(a.loop, 20) if nbytes > 1 << 20 else min(a.loop, 100) if nbytes > 1 << 14 else a.loop
        times = array("d")
        for i in range(iters + a.skip):
            comm.Barrier()
            t0 = time.perf_counter()
            call()
            us = (time.perf_counter() - t0) * 1e6
            if i >= a.skip:
                times.append(us)
        slowest = array("d", bytes(8 * len(times)))
        comm.Reduce(times, slowest, op=MPI.MAX, root=0)
        if comm.rank == 0:
            print(f"{nbytes:12d}{statistics.median(slowest):14.2f}{iters:12d}")


if __name__ == "__main__":
    main()
