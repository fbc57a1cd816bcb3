#!/usr/bin/env python3
"""The start-up of an MPIPoolExecutor to its first result, for a side-by-side run with
`node dist/lib/futures-bench.js --startup 4` (the clock starts at the executor's construction):

    mpiexec -n 1 --oversubscribe python3 scripts/mpi4py-futures-startup.py [workers=4]
"""
import json
import sys
import time

from mpi4py.futures import MPIPoolExecutor


def noop(x):
    return x


if __name__ == "__main__":
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    t = time.perf_counter()
    with MPIPoolExecutor(max_workers=workers) as ex:
        assert ex.submit(noop, 42).result() == 42
        dt = time.perf_counter() - t
    print(json.dumps({"startup_s": dt, "workers": workers}))
