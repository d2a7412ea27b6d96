"""Speed of rnnlib's recurrent layers against PyTorch on the CPU (run by `make bench`).

For each cell (LSTM, GRU, vanilla RNN) it times one forward plus one backward pass over a
sequence, N=64, T=50, D=128, H=256 in float32 by default, for rnnlib (`*_forward` then
`*_backward`, the graded layers) and for torch.nn.LSTM / nn.GRU / nn.RNN on the same shapes,
in the same process; "lstm-fused" is the fused, non-graded LSTM layer the character model
trains with (rnnlib.fused_lstm.LSTMLayer with its input projection and weight gradients, on
time-major arrays), against the same nn.LSTM. The repeats are paired and alternate (rnnlib,
PyTorch, then PyTorch, rnnlib, ...), so that load from other processes hits both alike; the
script prints the median time of each, the median of the per-pair ratios with its spread
(lowest and highest pair) and the load average before and after. It also prints the size of
rnnlib's cache (the sum of the bytes of its arrays) and the peak memory that tracemalloc sees
during rnnlib's forward and backward pass.

--threads sets the threads of both PyTorch and NumPy's BLAS (through threadpoolctl); the default
is the machine's cores. The clock is CPU time at one thread (unaffected by waiting for a core)
and wall time at more (CPU time would count spin-waiting threads and penalise parallel work).

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
from rnnlib.fused_lstm import LSTMLayer

CELLS = {
    # name: (rnnlib forward, rnnlib backward, torch module)
    "lstm": (L.lstm_forward, L.lstm_backward, torch.nn.LSTM),
    "lstm-fused": (None, None, torch.nn.LSTM),
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
        elif hasattr(item, "__dict__"):  # the fused layer: its buffers
            stack.extend(vars(item).values())
    return total


def make_fused(N, T, D, H, rng):
    """The fused LSTM layer's forward and backward, every gradient of the graded layer's."""
    x = rng.standard_normal((T, N, D)).astype(np.float32)  # time-major, as it trains
    h0 = np.zeros((N, H), dtype=np.float32)
    Wx = (rng.standard_normal((D, 4 * H)) / np.sqrt(D)).astype(np.float32)
    Wh = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(np.float32)
    b = np.zeros(4 * H, dtype=np.float32)
    dh = rng.standard_normal((T, N, H)).astype(np.float32)
    layer, dH = LSTMLayer(T, N, H, np.float32), np.empty_like(dh)
    dWx, dWh, dx = np.empty_like(Wx), np.empty_like(Wh), np.empty_like(x)

    def run():
        G = layer.gates(T).reshape(T * N, -1)
        np.matmul(x.reshape(T * N, D), Wx, out=G)
        G += b
        layer.forward(h0, h0, Wh, T)
        dH[...] = dh
        dA = layer.backward(dH, Wh, T)
        np.matmul(x.reshape(T * N, D).T, dA, out=dWx)
        np.matmul(layer.prev_h(T).reshape(T * N, H).T, dA, out=dWh)
        np.matmul(dA, Wx.T, out=dx.reshape(T * N, D))
        return (dx, layer.dh0, dWx, dWh, dA.sum(axis=0)), layer

    return run


def make_rnnlib(cell, N, T, D, H, rng):
    if cell == "lstm-fused":
        return make_fused(N, T, D, H, rng)
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


def time_once(fn, clock):
    start = clock()
    fn()
    return clock() - start


def bench(cell, N, T, D, H, repeats, clock, warmup=2):
    rng = np.random.default_rng(0)
    ours, theirs = make_rnnlib(cell, N, T, D, H, rng), make_torch(cell, N, T, D, H, rng)
    for _ in range(warmup):
        ours()
        theirs()
    t_ours, t_theirs = [], []
    for r in range(repeats):
        if r % 2 == 0:
            t_ours.append(time_once(ours, clock))
            t_theirs.append(time_once(theirs, clock))
        else:
            t_theirs.append(time_once(theirs, clock))
            t_ours.append(time_once(ours, clock))
    _, cache = ours()
    tracemalloc.start()
    ours()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    pairs = [a / b for a, b in zip(t_ours, t_theirs, strict=True)]
    return {
        "rnnlib_ms": 1e3 * statistics.median(t_ours),
        "torch_ms": 1e3 * statistics.median(t_theirs),
        "pair_ratio": statistics.median(pairs), "spread": (min(pairs), max(pairs)),
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
    clock = time.process_time if threads == 1 else time.perf_counter
    print(f"N={args.N} T={args.T} D={args.D} H={args.H} float32, forward + backward, "
          f"{args.repeats} paired alternating repeats, {'CPU' if threads == 1 else 'wall'} "
          f"time; numpy {np.__version__}, torch {torch.__version__}; {threads} threads each, "
          f"{cores} cores, load average {os.getloadavg()[0]:.1f}")
    header = (f"{'cell':<10} {'rnnlib ms':>10} {'torch ms':>9} {'pair ratio':>11} "
              f"{'spread':>11} {'cache MiB':>10} {'peak MiB':>9}")
    print(header)
    print("-" * len(header))
    for cell in args.cells:
        r = bench(cell, args.N, args.T, args.D, args.H, args.repeats, clock)
        spread = f"{r['spread'][0]:.2f}-{r['spread'][1]:.2f}"
        print(f"{cell:<10} {r['rnnlib_ms']:>10.1f} {r['torch_ms']:>9.1f} "
              f"{r['pair_ratio']:>11.2f} {spread:>11} "
              f"{r['cache_mib']:>10.1f} {r['peak_mib']:>9.1f}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
