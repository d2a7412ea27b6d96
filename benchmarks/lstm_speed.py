"""Speed of rnnlib's recurrent layers against PyTorch on the CPU (run by `make bench`).

For each cell (LSTM, GRU, vanilla RNN) it times one forward plus one backward pass over a
sequence, N=64, T=50, D=128, H=256 in float32 by default, for rnnlib (`*_forward` then
`*_backward`) and for torch.nn.LSTM / nn.GRU / nn.RNN on the same shapes, in the same process.
The rnnlib and PyTorch repeats alternate, so that load from other processes on the machine hits
both alike; the script prints the median of each, the ratio of the medians and the median of
the per-pair ratios. It also prints the size of rnnlib's cache (the sum of the bytes of its
arrays) and the peak memory that tracemalloc sees during rnnlib's forward and backward pass.

--threads sets the threads of both PyTorch and NumPy's BLAS (through threadpoolctl); the default
is the machine's cores. On a machine shared with other jobs, `--threads 1` compares the work
done with much less noise from oversubscribed threads.

Usage: python benchmarks/lstm_speed.py [--repeats 9] [--cells lstm gru rnn] [--threads 1] ...
PyTorch is not a dependency of the course: `make bench` installs requirements-bench.txt first.
"""

import argparse
import os
import statistics
import time
import tracemalloc

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from rnnlib import layers as L
from rnnlib.cells import GATES

CELLS = {
    # name: (rnnlib forward, rnnlib backward, torch module)
    "lstm": (L.lstm_forward, L.lstm_backward, torch.nn.LSTM),
    "gru": (L.gru_forward, L.gru_backward, torch.nn.GRU),
    "rnn": (L.rnn_forward, L.rnn_backward, torch.nn.RNN),
}


def cache_bytes(obj):
    """Bytes held by the NumPy arrays in a (nested) cache; views count as their base's size."""
    seen, total, stack = set(), 0, [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, np.ndarray):
            base = item if item.base is None else item.base
            if isinstance(base, np.ndarray) and id(base) not in seen:
                seen.add(id(base))
                total += base.nbytes
        elif isinstance(item, (tuple, list)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return total


def make_rnnlib(cell, N, T, D, H, rng):
    forward, backward, _ = CELLS[cell]
    gates = GATES[cell]
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    h0 = np.zeros((N, H), dtype=np.float32)
    Wx = (rng.standard_normal((D, gates * H)) / np.sqrt(D)).astype(np.float32)
    Wh = (rng.standard_normal((H, gates * H)) / np.sqrt(H)).astype(np.float32)
    b = np.zeros(gates * H, dtype=np.float32)
    dh = rng.standard_normal((N, T, H)).astype(np.float32)

    def run():
        h, cache = forward(x, h0, Wx, Wh, b)
        return backward(dh, cache), cache

    return run


def make_torch(cell, N, T, D, H, rng):
    module = CELLS[cell][2](D, H, batch_first=True)
    x = torch.from_numpy(rng.standard_normal((N, T, D)).astype(np.float32)).requires_grad_()
    dh = torch.from_numpy(rng.standard_normal((N, T, H)).astype(np.float32))

    def run():
        module.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = module(x)
        out.backward(dh)

    return run


def time_once(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(cell, N, T, D, H, repeats, warmup=2):
    rng = np.random.default_rng(0)
    ours, theirs = make_rnnlib(cell, N, T, D, H, rng), make_torch(cell, N, T, D, H, rng)
    for _ in range(warmup):
        ours()
        theirs()
    t_ours, t_theirs = [], []
    for _ in range(repeats):
        t_ours.append(time_once(ours))
        t_theirs.append(time_once(theirs))
    _, cache = ours()
    tracemalloc.start()
    ours()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "rnnlib_ms": 1e3 * statistics.median(t_ours),
        "torch_ms": 1e3 * statistics.median(t_theirs),
        "pair_ratio": statistics.median(a / b for a, b in zip(t_ours, t_theirs, strict=True)),
        "cache_mib": cache_bytes(cache) / 2**20,
        "peak_mib": peak / 2**20,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS))
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--N", type=int, default=64)
    parser.add_argument("--T", type=int, default=50)
    parser.add_argument("--D", type=int, default=128)
    parser.add_argument("--H", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for PyTorch and NumPy's BLAS (default: all cores)")
    args = parser.parse_args()

    cores = len(os.sched_getaffinity(0))
    threads = args.threads or cores
    torch.set_num_threads(threads)
    threadpool_limits(limits=threads, user_api="blas")
    print(f"N={args.N} T={args.T} D={args.D} H={args.H} float32, forward + backward, "
          f"median of {args.repeats} alternating repeats; numpy {np.__version__}, "
          f"torch {torch.__version__}; {threads} threads each, {cores} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    header = (f"{'cell':<5} {'rnnlib ms':>10} {'torch ms':>9} {'ratio':>6} {'pair ratio':>11} "
              f"{'cache MiB':>10} {'peak MiB':>9}")
    print(header)
    print("-" * len(header))
    for cell in args.cells:
        r = bench(cell, args.N, args.T, args.D, args.H, args.repeats)
        print(f"{cell:<5} {r['rnnlib_ms']:>10.1f} {r['torch_ms']:>9.1f} "
              f"{r['rnnlib_ms'] / r['torch_ms']:>6.2f} {r['pair_ratio']:>11.2f} "
              f"{r['cache_mib']:>10.1f} {r['peak_mib']:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
