"""Where a character-model training step's time and memory go (charlm_step.py --profile,
--memory).

The profile wraps the parts of a step with CPU-time counters (one thread; the wrappers cost
microseconds against parts of milliseconds): for the fused path the methods of
rnnlib.fused_lstm.FusedCharLSTM and the Trainer's clipping and update, for the graded
layers' path the layer functions CharRNN calls. What is not wrapped is the difference of two
counters (e.g. the forward pass minus its recurrence and dropout: the input and output
products). The recurrences' BLAS share is timed alone, on the same shapes. PyTorch's step is
profiled with torch.profiler for comparison. Minor page faults per step count fresh memory
the step touched (a reused buffer faults once; an array allocated every step may fault at
every step).
"""

import collections
import resource
import time
import tracemalloc

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import rnnlib.clip
import rnnlib.fused_lstm
import rnnlib.models.charrnn as charrnn_module
import rnnlib.training

_REFERENCE_PARTS = (
    ("word_embedding_forward", "embedding forward"), ("seq_forward", "LSTM forward"),
    ("dropout_forward", "dropout forward"), ("temporal_affine_forward", "output layer forward"),
    ("temporal_softmax_loss", "softmax loss"), ("temporal_affine_backward",
                                                "output layer backward"),
    ("dropout_backward", "dropout backward"), ("seq_backward", "LSTM backward"),
    ("word_embedding_backward", "embedding backward"))
_FUSED_PARTS = (
    ("forward", "forward (all)"),
    ("_dropout_forward", "dropout forward"), ("_softmax_loss", "softmax loss"),
    ("backward", "backward (all)"), ("_dropout_backward", "dropout backward"),
    ("_embedding_backward", "embedding + first layer's input backward"))
_LAYER_PARTS = (("forward", "LSTM recurrence forward"), ("backward", "LSTM recurrence backward"))


class Counters:
    """CPU seconds per label, added up by wrapped functions."""

    def __init__(self):
        self.seconds = collections.defaultdict(float)

    def wrap(self, fn, label):
        def timed(*args, **kwargs):
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += time.process_time() - start
        return timed

    def patch(self, owner, name, label, restore):
        restore.append((owner, name, owner.__dict__.get(name, _MISSING)))
        setattr(owner, name, self.wrap(getattr(owner, name), label))


_MISSING = object()


def _unpatch(restore):
    for owner, name, old in reversed(restore):
        if old is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, old)


def _timed_steps(trainer, counters, steps):
    """Total CPU seconds per step and minor page faults per step over `steps` steps."""
    trainer.train_step()
    counters.seconds.clear()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.process_time()
    for _ in range(steps):
        trainer.train_step()
    total = (time.process_time() - start) / steps
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps
    return total, faults


def _instrument(trainer, counters, fused):
    """Wrap the parts of `trainer`'s step; returns what to undo."""
    restore = []
    counters.patch(trainer.model, "loss", "model.loss (all)", restore)
    counters.patch(trainer, "update_rule", "Adam update", restore)
    if fused:
        for name, label in _FUSED_PARTS:
            counters.patch(trainer.model.fused, name, label, restore)
        for name, label in _LAYER_PARTS:
            counters.patch(rnnlib.fused_lstm.LSTMLayer, name, label, restore)
        counters.patch(rnnlib.training, "_clip_in_place", "clip (all)", restore)
    else:
        for name, label in _REFERENCE_PARTS:
            counters.patch(charrnn_module, name, label, restore)
        counters.patch(rnnlib.training, "clip_by_global_norm", "clip (all)", restore)
    counters.patch(rnnlib.clip, "global_norm", "  of which the float64 norm", restore)
    counters.patch(rnnlib.training, "global_norm", "  of which the float64 norm", restore)
    return restore


def _derived(s, fused):
    """Rows that are differences of counters (name -> seconds)."""
    if fused:
        return {
            "  forward: input + output products, state":
                s["forward (all)"] - s["LSTM recurrence forward"] - s["dropout forward"],
            "  backward: weight-gradient + output products, gradient arrays":
                s["backward (all)"] - s["LSTM recurrence backward"] - s["dropout backward"]
                - s["embedding + first layer's input backward"],
            "  loss: input checks, state": s["model.loss (all)"] - s["forward (all)"]
                - s["backward (all)"] - s["softmax loss"]}
    parts = sum(s[label] for _, label in _REFERENCE_PARTS)
    return {"  loss: state stacking, scaling, checks": s["model.loss (all)"] - parts}


def recurrence_blas(args):
    """CPU seconds of the recurrences' matrix products alone: T x layers per direction."""
    rng = np.random.default_rng(0)
    N, H, T = args.batch, args.hidden, args.seq
    h, Wh = (rng.standard_normal(s).astype(np.float32) for s in ((N, H), (H, 4 * H)))
    out4, da, out = np.empty((N, 4 * H), np.float32), np.empty((N, 4 * H), np.float32), h.copy()
    start = time.process_time()
    for _ in range(3 * T * args.layers):
        np.matmul(h, Wh, out=out4)
        np.matmul(da, Wh.T, out=out)
    return (time.process_time() - start) / 3


def _print_profile(title, total, faults, rows):
    print(f"\n{title}: {1e3 * total:.0f} ms CPU per step, {faults:.0f} minor page faults per step")
    for label, seconds in rows.items():
        print(f"  {label:<62} {1e3 * seconds:7.1f} ms {100 * seconds / total:5.1f} %")


def profile(args, batch, make_trainer, torch_step, steps=3):
    """Print where a step's CPU time goes, fused and reference paths, and PyTorch's top ops."""
    import os

    x, y = batch
    print(f"profile of one step, one thread, load average {os.getloadavg()[0]:.1f}")
    with threadpool_limits(limits=1, user_api="blas"):
        for fused in (True, False):
            trainer, counters = make_trainer(args, x, y, fused=fused), Counters()
            restore = _instrument(trainer, counters, fused)
            try:
                total, faults = _timed_steps(trainer, counters, steps)
            finally:
                _unpatch(restore)
            s = {k: v / steps for k, v in counters.seconds.items()}
            s["Adam update"] = s.get("Adam update", 0.0)
            rows = {**s, **_derived(s, fused),
                    "Trainer: batch, histories": total - s["model.loss (all)"]
                    - s["clip (all)"] - s["Adam update"]}
            if fused:
                rows["  of the recurrences: BLAS products alone"] = recurrence_blas(args)
            _print_profile("rnnlib fused (rnnlib.train's step)" if fused else
                           "rnnlib graded layers (reference path)", total, faults, rows)
        _torch_profile(args, x, y, torch_step)


def _torch_profile(args, x, y, torch_step):
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    torch.set_num_threads(1)
    step = torch_step(args, x, y)
    step()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events)
    print(f"\nPyTorch (torch.profiler, self CPU time of its top operators), "
          f"{total / 1e3:.0f} ms per step")
    for e in events[:8]:
        print(f"  {e.key:<62} {e.self_cpu_time_total / 1e3:7.1f} ms "
              f"{100 * e.self_cpu_time_total / total:5.1f} %")


def memory(args, batch, make_trainer):
    """Peak traced memory of one step (parameters, Adam moments, buffers, temporaries)."""
    x, y = batch
    print("peak memory of a training step (tracemalloc, tracing from before the model is "
          "built: parameters, Adam moments, reused buffers and every temporary)")
    with threadpool_limits(limits=1, user_api="blas"):
        for fused in (True, False):
            tracemalloc.start()
            trainer = make_trainer(args, x, y, fused=fused)
            trainer.train_step()  # Adam's moments and the buffers exist from here on
            held = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            trainer.train_step()
            after, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            del trainer
            label = "fused" if fused else "graded layers (before)"
            print(f"  rnnlib {label:<24} peak {peak / 2**20:6.1f} MiB; held between steps "
                  f"{held / 2**20:6.1f} MiB (after the step {after / 2**20:.1f})")
