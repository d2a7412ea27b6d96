"""One training loop for every model of the course: `Trainer`, its schedules and callbacks.

    trainer = Trainer(model, batches, num_steps=1000, update_rule="adam",
                      optim_config={"learning_rate": 2e-3},
                      schedule=cosine_schedule(2e-3, 1000), clip_norm=5.0, seed=0,
                      callbacks=[evaluate_every_100, Checkpoints("ckpt/last", every=100)])
    trainer.run()

A step draws a batch with ``batches(rng)`` (a tuple of positional or a dict of keyword
arguments for ``model.loss``), computes ``model.loss(...) -> (loss, grads)``, clips the
gradients, sets the learning rate from the schedule and updates every parameter with an
``rnnlib.optim`` rule. A model whose loss returns ``(loss, grads, state)`` has that state
passed back as ``h0`` on the next step unless the batch sets ``h0`` itself (truncated BPTT;
a batch with ``h0=None`` resets it).

The schedule is a function of the step index alone, over a declared number of steps: a time
limit may end a run early but never changes its learning rates, so the first K steps of a
run are the same whatever machine runs them, and a resumed run is the uninterrupted one.
``record_first=K`` keeps those K losses (``trainer.first_losses``) for a replay.

Callbacks are objects with any of ``on_begin(trainer)``, ``on_step(trainer)`` (after every
update; ``trainer.stopping`` names the reason when it is the last), ``on_end(trainer)``, and
``state_dict()`` / ``load_state_dict(tree)`` for what they keep across a resume; a plain
function is an ``on_step``. ``trainer.save(path)`` writes one `rnnlib.checkpoint`;
``trainer.restore(path)`` continues from it exactly (parameters, optimizer moments, random
generators, data position, carried state, histories and callbacks).
"""

import copy
import math
import time

import numpy as np

from rnnlib import checkpoint
from rnnlib.clip import clip_by_global_norm, clip_by_value, global_norm
from rnnlib.optim import IN_PLACE, get_update_rule

__all__ = ["Callback", "Checkpoints", "Model", "Progress", "Trainer", "cosine_schedule",
           "linear_schedule", "lr_at", "step_schedule"]

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def lr_at(schedule, lr, frac, min_frac=0.1, warmup_frac=0.0):
    """Learning rate at a fraction `frac` in [0, 1] of the declared training steps.

    Inputs:
    - schedule: 'constant' or 'cosine' (half a cosine from lr down to lr * min_frac)
    - lr: float, the peak learning rate
    - frac: float, step index / total number of steps
    - min_frac: float, final learning rate as a fraction of lr (cosine only)
    - warmup_frac: float, fraction of the steps with a linear warm-up from lr/10
    """
    frac = min(max(frac, 0.0), 1.0)
    if warmup_frac > 0 and frac < warmup_frac:
        return lr * (0.1 + 0.9 * frac / warmup_frac)
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * (min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * frac)))
    raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")


def step_schedule(schedule, lr, total_steps, min_frac=0.1, warmup_frac=0.0):
    """`lr_at` as a function of the step index 0, 1, ... over `total_steps` steps."""
    if schedule != "constant" and not total_steps:
        raise ValueError(f"a {schedule!r} schedule needs the total number of steps: it follows "
                         "the step index, never the clock")
    total = max(int(total_steps or 1), 1)
    return lambda step: lr_at(schedule, lr, step / total, min_frac, warmup_frac)


def cosine_schedule(lr, total_steps, min_frac=0.1):
    """Half a cosine from lr (step 0) to lr * min_frac (step total_steps)."""
    return step_schedule("cosine", lr, total_steps, min_frac)


def linear_schedule(lr, total_steps, final_frac=0.1):
    """A straight line from lr (step 0) to lr * final_frac (step total_steps)."""
    total = max(int(total_steps), 1)
    return lambda step: lr * (1 - (1 - final_frac) * step / total)


class Model:
    """A parameter dict and a loss function, as a model (for networks written as functions)."""

    def __init__(self, params, loss):
        self.params = params
        self.loss = loss


class Callback:
    """Hooks of a training run; subclasses override what they need (see the module doc)."""

    def on_begin(self, trainer):
        pass

    def on_step(self, trainer):
        pass

    def on_end(self, trainer):
        pass

    def state_dict(self):
        """Top-level entries this callback adds to a checkpoint (arrays allowed)."""
        return {}

    def load_state_dict(self, tree):
        """Restore from a checkpoint tree (the whole tree: read your own entries)."""


class _OnStep(Callback):
    def __init__(self, fn):
        self.fn = fn

    def on_step(self, trainer):
        self.fn(trainer)


def _stateful(batches):
    """The object whose state_dict() holds the data position of `batches`, or None."""
    for obj in (batches, getattr(batches, "__self__", None)):
        if hasattr(obj, "state_dict") and hasattr(obj, "load_state_dict"):
            return obj
    return None


class Trainer:
    """Minibatch gradient descent with hooks; see the module docstring.

    Inputs:
    - model: object with ``params`` (dict of arrays, updated in place) and ``loss``.
    - batches: callable ``batches(rng) -> tuple | dict``; if it (or the object it is a bound
      method of) has ``state_dict``/``load_state_dict``, its position is checkpointed.

    Keyword inputs:
    - num_steps: declared number of updates (the run ends there); None: until time_limit.
    - update_rule: a name of ``rnnlib.optim.UPDATE_RULES`` or an update function.
    - optim_config: hyperparameters of the rule; every parameter gets its own copy.
    - schedule: ``schedule(step) -> learning rate`` for step 0, 1, ...; None keeps the
      configs' own learning rates.
    - clip_value, clip_norm: clip every gradient entry, then the global norm.
    - non_finite: 'skip' (a step whose loss or gradient norm is inf/nan makes no update and
      is counted in ``skipped_steps``) or 'stop' (a non-finite loss ends the run before its
      update; a finite loss is applied, whatever its gradient).
    - time_limit: seconds on ``clock`` ('wall' or 'cpu': this process's CPU time) after which
      the run stops early; it never changes the schedule.
    - seed: int, list of ints or np.random.Generator: the generator of the batches.
    - steps_per_epoch: if set, ``epoch`` counts completed epochs and ``epoch_end`` is true
      after the last step of each.
    - callbacks: Callback objects or functions (called after every step), in order.
    - record_first: keep the losses of the first this many steps in ``first_losses``.
    - metadata: dict saved in every checkpoint (e.g. the run's configuration).
    - in_place: the gradients the model returns are fresh arrays the Trainer may change, and
      the parameters are the Trainer's to update: clip the gradients in place and use the
      rule's in-place form where there is one (``rnnlib.optim.IN_PLACE``: adam). The same
      numbers up to rounding, without copies (the character model trains this way).
    """

    def __init__(self, model, batches, *, num_steps=None, update_rule="sgd", optim_config=None,
                 schedule=None, clip_norm=None, clip_value=None, non_finite="skip",
                 time_limit=None, clock="wall", seed=0, steps_per_epoch=None, callbacks=(),
                 record_first=0, metadata=None, in_place=False):
        if num_steps is None and time_limit is None:
            raise ValueError("give num_steps or time_limit: a run must end")
        if non_finite not in ("skip", "stop"):
            raise ValueError(f"non_finite must be 'skip' or 'stop', got {non_finite!r}")
        if clock not in CLOCKS:
            raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
        self.model, self.params, self.batches = model, model.params, batches
        self.num_steps = None if num_steps is None else int(num_steps)
        self.update_rule_name = update_rule if isinstance(update_rule, str) else None
        self.in_place = bool(in_place)
        if self.in_place and self.update_rule_name in IN_PLACE:
            update_rule = IN_PLACE[self.update_rule_name]  # checkpoints keep the rule's name
        self.update_rule = get_update_rule(update_rule)
        self.optim_config = dict(optim_config or {})
        self.schedule, self.clip_norm, self.clip_value = schedule, clip_norm, clip_value
        self.non_finite, self.time_limit, self.clock = non_finite, time_limit, clock
        self.seed = None if isinstance(seed, np.random.Generator) else seed
        self.rng = np.random.default_rng(seed)
        self.steps_per_epoch = steps_per_epoch
        self.callbacks = [cb if isinstance(cb, Callback) else _OnStep(cb) for cb in callbacks]
        self.record_first = int(record_first)
        self.metadata = dict(metadata or {})
        self.optim_configs = {p: copy.deepcopy(self.optim_config) for p in self.params}
        self.iteration, self.elapsed, self.skipped_steps = 0, 0.0, 0
        self.state, self.stopping, self.loss = None, None, None
        self.loss_history, self.grad_norm_history = [], []

    # ------------------------------------------------------------------ the loop
    @property
    def epoch(self):
        return self.iteration // self.steps_per_epoch if self.steps_per_epoch else 0

    @property
    def epoch_end(self):
        return bool(self.steps_per_epoch) and self.iteration % self.steps_per_epoch == 0

    @property
    def first_losses(self):
        """The losses of the first `record_first` steps, at full precision."""
        return self.loss_history[:self.record_first]

    @property
    def learning_rate(self):
        """The learning rate of the latest update (of the first parameter)."""
        config = next(iter(self.optim_configs.values()), {})
        return config.get("learning_rate")

    def due(self, every):
        """True after every `every`-th step and after the last one (for callbacks)."""
        return bool(every) and (self.iteration % every == 0 or self.stopping is not None)

    def run(self, stop_at=None):
        """Train until num_steps, the time limit, a non-finite loss or `stop_at` steps.

        stop_at ends the run after that many steps in all without changing the schedule (a
        replay of a run's first steps). Continues a restored run. Returns self.
        """
        clock = CLOCKS[self.clock]
        self.stopping = None
        self.stopping = self._stop_reason(stop_at, time_up=False)  # a finished run stays done
        for cb in self.callbacks:
            cb.on_begin(self)
        start, before = clock(), self.elapsed
        while self.stopping is None:
            self.train_step()
            self.elapsed = before + clock() - start
            self.stopping = self._stop_reason(stop_at)
            for cb in self.callbacks:
                cb.on_step(self)
        self.elapsed = before + clock() - start
        for cb in self.callbacks:
            cb.on_end(self)
        return self

    def _stop_reason(self, stop_at, time_up=True):
        if self.stopping is not None:
            return self.stopping
        if self.num_steps is not None and self.iteration >= self.num_steps:
            return "steps"
        if stop_at is not None and self.iteration >= stop_at:
            return "stop_at"
        if time_up and self.time_limit is not None and self.elapsed >= self.time_limit:
            return "time limit"
        return None

    def _loss(self, batch):
        if isinstance(batch, dict):
            kwargs = dict(batch)
            if self.state is not None and "h0" not in kwargs:
                kwargs["h0"] = self.state
            out = self.model.loss(**kwargs)
        else:
            out = self.model.loss(*batch)
        if len(out) == 3:
            loss, grads, self.state = out
        else:
            loss, grads = out
        return float(loss), grads

    def train_step(self):
        """One update (see the module docstring); returns the step's loss."""
        loss, grads = self._loss(self.batches(self.rng))
        if self.clip_value is not None:
            grads = clip_by_value(grads, self.clip_value)
        if self.clip_norm is not None and self.in_place:
            norm = _clip_in_place(grads, self.clip_norm)
        elif self.clip_norm is not None:
            grads, norm = clip_by_global_norm(grads, self.clip_norm)
        else:
            norm = global_norm(grads)
        self.loss = loss
        self.loss_history.append(loss)
        self.grad_norm_history.append(norm)
        if self.non_finite == "stop" and not math.isfinite(loss):
            self.stopping = "non-finite loss"
        elif self.non_finite == "skip" and not (math.isfinite(loss) and math.isfinite(norm)):
            self.skipped_steps += 1  # an inf/nan update would destroy the parameters for good
        else:
            self._update(grads)
        self.iteration += 1
        return loss

    def _update(self, grads):
        lr = None if self.schedule is None else self.schedule(self.iteration)
        for p, w in self.params.items():
            config = self.optim_configs[p]
            if lr is not None:
                config["learning_rate"] = lr
            self.params[p], self.optim_configs[p] = self.update_rule(w, grads[p], config)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self):
        """Everything an exact resume needs, as a checkpoint tree."""
        optim, scalars = {}, {}
        for p, config in self.optim_configs.items():
            optim[p] = {k: v for k, v in config.items() if isinstance(v, np.ndarray)}
            scalars[p] = {k: v for k, v in config.items() if not isinstance(v, np.ndarray)}
        model_rng = getattr(self.model, "rng", None)
        owner = _stateful(self.batches)
        tree = {
            "iteration": self.iteration, "epoch": self.epoch, "num_iterations": self.num_steps,
            "elapsed_seconds": self.elapsed, "clock": self.clock,
            "update_rule": self.update_rule_name, "seed": self.seed,
            "param": dict(self.params), "optim": optim, "optim_scalars": scalars,
            "rng_state": self.rng.bit_generator.state,
            "model_rng_state": (model_rng.bit_generator.state
                                if isinstance(model_rng, np.random.Generator) else None),
            "batcher_state": owner.state_dict() if owner is not None else None,
            "state": self.state, "skipped_steps": self.skipped_steps,
            "loss_history": self.loss_history, "grad_norm_history": self.grad_norm_history,
            "metadata": self.metadata,
        }
        for cb in self.callbacks:
            extra = cb.state_dict()
            if set(extra) & set(tree):
                raise ValueError(f"callback entries {sorted(set(extra) & set(tree))} clash")
            tree.update(extra)
        return tree

    def load_state_dict(self, tree):
        """Continue from a tree made by `state_dict` (same model architecture and settings)."""
        checkpoint.copy_params(tree["param"], self.params)
        self.optim_configs = {p: {**tree["optim_scalars"][p], **tree["optim"].get(p, {})}
                              for p in self.params}
        self.iteration, self.elapsed = tree["iteration"], tree["elapsed_seconds"]
        self.skipped_steps, self.state = tree["skipped_steps"], tree["state"]
        self.rng.bit_generator.state = tree["rng_state"]
        model_rng = getattr(self.model, "rng", None)
        if tree["model_rng_state"] is not None and isinstance(model_rng, np.random.Generator):
            model_rng.bit_generator.state = tree["model_rng_state"]
        owner = _stateful(self.batches)
        if owner is not None and tree["batcher_state"] is not None:
            owner.load_state_dict(tree["batcher_state"])
        self.loss_history = list(tree["loss_history"])
        self.grad_norm_history = list(tree["grad_norm_history"])
        for cb in self.callbacks:
            cb.load_state_dict(tree)

    def save(self, path):
        """Write the checkpoint ``path`` (.npz + .json); returns the npz path."""
        return checkpoint.save(path, self.state_dict())

    def restore(self, path):
        """Load the checkpoint ``path`` written by `save`; `run` then continues. Returns self."""
        self.load_state_dict(checkpoint.load(path))
        return self


def _clip_in_place(grads, max_norm):
    """clip_by_global_norm, scaling the arrays of `grads` in place; returns the norm."""
    norm = global_norm(grads)
    if math.isfinite(norm) and norm > max_norm:
        for g in grads.values():
            g *= np.asarray(max_norm / norm, dtype=g.dtype)
    return norm


class Checkpoints(Callback):
    """Save the trainer to ``path`` after every `every`-th step and after the last one."""

    def __init__(self, path, every):
        self.path, self.every = path, every

    def on_step(self, trainer):
        if trainer.due(self.every):
            trainer.save(self.path)


class Progress(Callback):
    """A tqdm bar over the steps, with the running loss and the learning rate.

    ``write(message)`` prints a line above the bar (use it as the run's log function).
    """

    def __init__(self, desc="train", every=10, enabled=True):
        self.desc, self.every, self.enabled, self.bar = desc, max(int(every), 1), enabled, None

    def on_begin(self, trainer):
        # The plain text bar: a notebook widget bar would need widget JavaScript in the book.
        from tqdm import tqdm

        self.bar = tqdm(total=trainer.num_steps, initial=trainer.iteration, desc=self.desc,
                        disable=not self.enabled, dynamic_ncols=True, leave=False)

    def on_step(self, trainer):
        self.bar.update(1)
        if trainer.iteration % self.every == 0:
            lr = trainer.learning_rate
            postfix = {"loss": f"{trainer.loss:.4f}"}
            if lr is not None:
                postfix["lr"] = f"{lr:.2e}"
            self.bar.set_postfix(postfix, refresh=False)

    def on_end(self, trainer):
        self.bar.close()

    @staticmethod
    def write(message):
        from tqdm import tqdm

        tqdm.write(message)
