#!/usr/bin/env python3
"""The measurements of `tsmpirun -m tsmpi/bench <name>`, made the same way on mpi4py, for
side-by-side runs (`npm run compare` runs them all):

    mpiexec -n 4 python3 scripts/mpi4py-bench.py allreduce -m 8388608 -n 8388608
    mpiexec -n 4 --mca btl tcp,self python3 scripts/mpi4py-bench.py barrier   # Open MPI over TCP
    mpiexec -n 2 python3 scripts/mpi4py-bench.py pingpong --json

Collectives (barrier, bcast, allreduce, allgather, gather, scatter, alltoall), per size: every
iteration starts after a barrier; each rank times the call; the figure is the median over
iterations of the slowest rank's time. The size is the block each rank contributes. Float64
buffers (the standard `array` module, no NumPy needed). `--object` uses the lowercase (pickled)
calls on a float at 8 B, on a list of floats above (where allreduce concatenates, as Python's +
does: compare 8 B only).

pingpong: ranks 0 and 1, per size (0 and the powers of two from -m to -n), the buffer tier
(Send/Recv of a bytearray) and the object tier (send/recv of a bytes object) in 10 interleaved
rounds, each round opened by a zero-byte Sendrecv; every round trip is timed and halved; the
figure is the median. Iteration and warm-up counts per size are the tsmpi bench's.
"""
import argparse
import json
import statistics
import time
from array import array

from mpi4py import MPI

COLLECTIVES = ["barrier", "bcast", "allreduce", "allgather", "gather", "scatter", "alltoall"]


def sizes(lo, hi):
    s = max(lo, 1)
    while s <= hi:
        yield s
        s *= 2


def quantile(xs, q):
    """Linear interpolation between order statistics (numpy's default), as lib/bench/index.ts."""
    s = sorted(xs)
    h = (len(s) - 1) * q
    lo = int(h)
    return s[lo] + (h - lo) * (s[lo + 1] - s[lo]) if lo + 1 < len(s) else s[lo]


def summary(xs):
    return {"us": round(quantile(xs, 0.5), 2), "q1": round(quantile(xs, 0.25), 2), "q3": round(quantile(xs, 0.75), 2)}


def pingpong(comm, a):
    rank = comm.rank
    if comm.size < 2:
        raise SystemExit("pingpong needs at least 2 ranks")
    if rank > 1:
        comm.Barrier()
        return
    peer = 1 - rank
    todo = ([0] if a.min_size == 0 else []) + [b for b in sizes(1, a.max_size) if b >= a.min_size]
    if rank == 0 and not a.json and not a.quiet:
        print("# mpi4py PingPong Test: one-way time = round trip / 2, medians")
        print("#  Size [B] | Send/Recv [us]   [MB/s] | send/recv [us]   [MB/s]  Samples")
    empty = bytearray(0)
    for nbytes in todo:
        iters = max(5, min(a.loop, 40) if nbytes > 1 << 20 else min(a.loop, 300) if nbytes > 1 << 18 else a.loop)
        warm = max(2, min(a.skip, 3) if nbytes > 1 << 20 else a.skip)
        sendbuf = bytearray(b"\x07") * nbytes
        recvbuf = bytearray(nbytes)
        message = bytes(sendbuf)

        if rank == 0:
            def buffer():
                comm.Send(sendbuf, peer, 1)
                comm.Recv(recvbuf, peer, 1)

            def obj():
                comm.send(message, peer, 2)
                comm.recv(source=peer, tag=2)
        else:
            def buffer():
                comm.Recv(recvbuf, peer, 1)
                comm.Send(sendbuf, peer, 1)

            def obj():
                comm.recv(source=peer, tag=2)
                comm.send(message, peer, 2)

        methods = {"buffer": buffer, "object": obj}
        samples = {m: [] for m in methods}
        rounds = 10
        per_round = max(1, -(-iters // rounds))
        for run in methods.values():
            for _ in range(warm):
                run()
        clock = time.perf_counter_ns
        for _ in range(rounds):
            for m, run in methods.items():
                comm.Sendrecv(empty, peer, 3, empty, peer, 3)  # both sides start together
                out = samples[m]
                for _ in range(per_round):
                    t0 = clock()
                    run()
                    out.append((clock() - t0) / 2000)
        if rank != 0 or a.quiet:
            continue
        buf, ob = summary(samples["buffer"]), summary(samples["object"])
        if a.json:
            print(json.dumps({"bytes": nbytes, "bufferUs": buf["us"], "objectUs": ob["us"], "bufferQ1": buf["q1"], "bufferQ3": buf["q3"],
                              "objectQ1": ob["q1"], "objectQ3": ob["q3"], "samples": per_round * rounds}), flush=True)
        else:
            print(f"{nbytes:11d} |{buf['us']:14.2f}{nbytes / buf['us']:9.1f} |{ob['us']:14.2f}{nbytes / ob['us']:9.1f}{per_round * rounds:9d}", flush=True)
    comm.Barrier()


def collective(comm, a):
    rank, size = comm.rank, comm.size
    if rank == 0 and not a.json and not a.quiet:
        tier = " (object tier)" if a.object else ""
        print(f"# mpi4py {a.name}{tier}: {size} processes; latency per call = median over iterations of the slowest rank")
        print("#   Size [B]  Latency [us]  Iterations")
    if a.name == "barrier":
        todo = [0]
    elif a.sizes:
        todo = [b for b in (int(x) for x in a.sizes.split(",")) if b >= 8]
    else:
        todo = [b for b in sizes(a.min_size, a.max_size) if b >= 8]
    for nbytes in todo:
        n = max(1, nbytes // 8)
        blocks = size if a.name in ("scatter", "alltoall") else 1
        send = array("d", [rank + 1.0]) * (n * blocks)
        recv = array("d", bytes(8 * n * (size if a.name in ("allgather", "gather", "alltoall") else 1)))
        value = rank + 1.0 if n == 1 else list(send)
        pieces = [list(send[i * n:(i + 1) * n]) for i in range(size)]
        call = {
            "barrier": comm.Barrier,
            "bcast": (lambda: comm.bcast(value, 0)) if a.object else (lambda: comm.Bcast(send, 0)),
            "allreduce": (lambda: comm.allreduce(value)) if a.object else (lambda: comm.Allreduce(send, recv)),
            "allgather": (lambda: comm.allgather(value)) if a.object else (lambda: comm.Allgather(send, recv)),
            "gather": (lambda: comm.gather(value, 0)) if a.object else (lambda: comm.Gather(send, recv if rank == 0 else None, 0)),
            "scatter": (lambda: comm.scatter(pieces if rank == 0 else None, 0)) if a.object else (lambda: comm.Scatter(send if rank == 0 else None, recv, 0)),
            "alltoall": (lambda: comm.alltoall(pieces)) if a.object else (lambda: comm.Alltoall(send, recv)),
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
        if rank != 0 or a.quiet:
            continue
        if a.json:
            print(json.dumps({"name": a.name, "tier": "object" if a.object else "buffer", "size": size, "bytes": nbytes, **summary(slowest), "iterations": iters}), flush=True)
        else:
            print(f"{nbytes:12d}{statistics.median(slowest):14.2f}{iters:12d}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name", choices=["pingpong"] + COLLECTIVES)
    p.add_argument("-m", "--min-size", type=int, default=None)
    p.add_argument("-n", "--max-size", type=int, default=None)
    p.add_argument("--sizes", help="comma-separated sizes in bytes (collectives)")
    p.add_argument("-l", "--loop", type=int, default=None)
    p.add_argument("-s", "--skip", type=int, default=None)
    p.add_argument("--object", action="store_true")
    p.add_argument("--json", action="store_true", help="one JSON object per size, with the quartiles")
    p.add_argument("-q", "--quiet", action="store_true")
    a = p.parse_args()
    ping = a.name == "pingpong"
    # The tsmpi bench's defaults.
    a.min_size = a.min_size if a.min_size is not None else 0 if ping or a.name == "barrier" else 8
    a.max_size = a.max_size if a.max_size is not None else 16 * 1024 * 1024 if ping else 0 if a.name == "barrier" else 8 * 1024 * 1024
    a.loop = a.loop if a.loop is not None else 1000 if ping else 200
    a.skip = a.skip if a.skip is not None else 50 if ping else 20
    (pingpong if ping else collective)(MPI.COMM_WORLD, a)


if __name__ == "__main__":
    main()
