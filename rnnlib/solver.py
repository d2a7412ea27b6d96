"""A Solver in the CS231n style: it trains any model that has ``params`` and ``loss``.

The model must provide
- ``model.params``: dict mapping parameter names to arrays;
- ``model.loss(*batch)`` or ``model.loss(**batch)`` returning ``(loss, grads)`` with ``grads``
  keyed like ``params``, or ``(loss, grads, state)`` for a model that carries a recurrent
  state from one batch to the next (``CharRNN``).

Batches come from ``sample_batch(rng)``, a callable that returns either a tuple of positional
arguments or a dict of keyword arguments for ``model.loss``. Without it the Solver samples
CS231n-style from ``data``:

- classification data ``{"X_train", "y_train", "X_val", "y_val"}``: ``model.loss(X, y)``,
  with training and validation accuracy checked every epoch as in CS231n (``model.loss(X)``
  must then return class scores);
- captioning data ``{"train_features", "train_captions"}`` (and optionally
  ``"train_image_idxs"``, mapping each caption to its image): ``model.loss(features,
  captions)``.

When ``model.loss`` returns a state and the batch is a dict, the Solver passes the state of
the previous step back as ``h0`` unless the batch sets ``h0`` itself; ``BPTTBatcher``
sets ``h0=None`` at the start of each epoch, which resets the state.

Every random choice of the Solver goes through ``np.random.default_rng(seed)``, so two runs
with the same seed (and a deterministic model) give the same loss history; a model with an
``rng`` attribute (a ``np.random.Generator``, used for dropout) has that generator saved in
checkpoints too, so a resumed run continues exactly as an uninterrupted one.

Example::

    solver = Solver(model, update_rule="adam", optim_config={"learning_rate": 2e-3},
                    sample_batch=batcher.sample_batch, iterations_per_epoch=len(batcher),
                    num_epochs=5, clip_norm=5.0, val_fn=lambda m: evaluate(m, val_ids),
                    checkpoint_path="runs/charlm/ckpt", seed=0)
    solver.train()
"""

import copy
import hashlib
import io
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

# The plain text bar: a notebook widget bar would need widget JavaScript in the built book.
from tqdm import tqdm

from rnnlib.clip import clip_by_global_norm, clip_by_value, global_norm
from rnnlib.optim import get_update_rule

__all__ = ["Solver", "atomic_write_bytes", "checkpoint_files"]

_FORMAT = "rnnlib-solver-checkpoint"


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same directory, are flushed to disk, and the
    file is then renamed over ``path`` with ``os.replace`` (atomic on POSIX).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def checkpoint_files(path):
    """The (npz, json) pair of paths for a checkpoint named ``path`` (with or without .npz)."""
    path = Path(path)
    if path.suffix in (".npz", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".npz"), path.with_name(path.name + ".json")


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class Solver:
    """Trains a model with minibatch gradient descent (see the module docstring).

    Required argument:
    - model: object with ``params`` (dict of arrays) and ``loss`` (see above).

    Optional arguments (keyword only):
    - data: dict of training data for the default batch sampler (see above).
    - update_rule: name in ``rnnlib.optim.UPDATE_RULES`` or a function
      ``update(w, dw, config) -> (next_w, config)``. Default 'sgd'.
    - optim_config: dict of hyperparameters given to the update rule; every parameter gets
      its own copy (and so its own optimizer state).
    - lr_decay: the learning rate is multiplied by this at the end of every epoch.
    - batch_size: minibatch size for the default samplers.
    - num_epochs: number of epochs to train, used when num_iterations is None.
    - num_iterations: total number of updates; overrides num_epochs.
    - iterations_per_epoch: updates per epoch; default: len(training data) // batch_size for
      the default samplers, len(owner) when sample_batch is a bound method of an object with
      a length (``BPTTBatcher.sample_batch``), else num_iterations (one epoch).
    - sample_batch: callable ``sample_batch(rng) -> tuple | dict`` giving the arguments of
      ``model.loss`` for one step.
    - val_fn: callable ``val_fn(model) -> float``, a validation loss (lower is better),
      evaluated at the end of every epoch, or every val_every iterations if given, and at
      the last iteration.
    - val_every: see val_fn.
    - keep_best: if True (default), when training ends the model gets the parameters with
      the best validation score seen (as CS231n does).
    - clip_norm: if set, gradients are rescaled to at most this global norm; a step whose
      gradient norm is not finite is skipped (counted in ``skipped_steps``).
    - clip_value: if set, every gradient entry is clipped to [-clip_value, clip_value].
    - print_every: print the training loss every this many iterations (if verbose).
    - verbose: if False, print nothing and show no progress bar.
    - progress: show a tqdm progress bar (default: same as verbose).
    - seed: seed of the Solver's random generator (batch sampling).
    - checkpoint_path: if set, a checkpoint (``<path>.npz`` + ``<path>.json``) is written
      every checkpoint_every iterations (default: every epoch) and at the end; a checkpoint
      of the best validation score is written to ``<path>-best``.
    - checkpoint_every: see checkpoint_path.
    - time_limit: stop after this many seconds of training (wall clock), if set.
    - metadata: dict saved in every checkpoint's JSON (e.g. the model's configuration).
    - num_train_samples, num_val_samples: subsample sizes for classification accuracy.

    Attributes filled by train():
    - loss_history: training loss of every iteration.
    - grad_norm_history: global gradient norm (before clipping) of every iteration.
    - val_history: list of (iteration, validation loss) from val_fn.
    - train_acc_history, val_acc_history: per-epoch accuracies (classification data only).
    - best_val_loss, best_val_acc, best_params.
    - iteration, epoch, elapsed (seconds spent in train()).
    """

    def __init__(
        self,
        model,
        data=None,
        *,
        update_rule="sgd",
        optim_config=None,
        lr_decay=1.0,
        batch_size=100,
        num_epochs=10,
        num_iterations=None,
        iterations_per_epoch=None,
        sample_batch=None,
        val_fn=None,
        val_every=None,
        keep_best=True,
        clip_norm=None,
        clip_value=None,
        print_every=10,
        verbose=True,
        progress=None,
        seed=0,
        checkpoint_path=None,
        checkpoint_every=None,
        time_limit=None,
        metadata=None,
        num_train_samples=1000,
        num_val_samples=None,
    ):
        if not hasattr(model, "params") or not hasattr(model, "loss"):
            raise ValueError("model must have a 'params' dict and a 'loss' method")
        self.model = model
        self.data = data
        self.update_rule_name = update_rule if isinstance(update_rule, str) else None
        self.update_rule = get_update_rule(update_rule)
        self.optim_config = dict(optim_config or {})
        self.lr_decay = float(lr_decay)
        self.batch_size = int(batch_size)
        self.val_fn = val_fn
        self.val_every = val_every
        self.keep_best = keep_best
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.print_every = max(int(print_every), 1)
        self.verbose = verbose
        self.progress = verbose if progress is None else progress
        self.seed = seed
        self.checkpoint_path = checkpoint_path
        self.checkpoint_every = checkpoint_every
        self.time_limit = time_limit
        self.metadata = dict(metadata or {})
        self.num_train_samples = num_train_samples
        self.num_val_samples = num_val_samples

        self._classification = False
        if sample_batch is not None:
            self.sample_batch = sample_batch
            if iterations_per_epoch is None:
                owner = getattr(sample_batch, "__self__", None)
                if hasattr(owner, "__len__"):
                    iterations_per_epoch = len(owner)
                elif num_iterations is not None:
                    iterations_per_epoch = num_iterations  # the whole run is one epoch
                else:
                    raise ValueError(
                        "iterations_per_epoch or num_iterations must be given when "
                        "sample_batch has no length"
                    )
        elif data is not None and {"X_train", "y_train"} <= data.keys():
            self._classification = True
            self.sample_batch = self._sample_classification
            num_train = len(data["X_train"])
            iterations_per_epoch = iterations_per_epoch or max(num_train // self.batch_size, 1)
        elif data is not None and {"train_features", "train_captions"} <= data.keys():
            self.sample_batch = self._sample_captions
            num_train = len(data["train_captions"])
            iterations_per_epoch = iterations_per_epoch or max(num_train // self.batch_size, 1)
        else:
            raise ValueError(
                "give sample_batch, or data with X_train/y_train or "
                "train_features/train_captions"
            )
        self.iterations_per_epoch = max(int(iterations_per_epoch), 1)
        if num_iterations is None:
            num_iterations = int(num_epochs) * self.iterations_per_epoch
        self.num_iterations = int(num_iterations)
        self._reset()

    def _reset(self):
        self.rng = np.random.default_rng(self.seed)
        self.iteration = 0
        self.epoch = 0
        self.elapsed = 0.0
        self.skipped_steps = 0
        self.state = None
        self.loss_history = []
        self.grad_norm_history = []
        self.val_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.best_val_loss = math.inf
        self.best_val_acc = -math.inf
        self.best_params = {}
        self.optim_configs = {p: copy.deepcopy(self.optim_config) for p in self.model.params}

    # ------------------------------------------------------------------ batches
    def _sample_classification(self, rng):
        idx = rng.choice(len(self.data["X_train"]), self.batch_size)
        return self.data["X_train"][idx], self.data["y_train"][idx]

    def _sample_captions(self, rng):
        idx = rng.choice(len(self.data["train_captions"]), self.batch_size)
        captions = self.data["train_captions"][idx]
        image_idxs = self.data.get("train_image_idxs")
        rows = idx if image_idxs is None else image_idxs[idx]
        return self.data["train_features"][rows], captions

    # ------------------------------------------------------------------ one step
    def _step(self):
        batch = self.sample_batch(self.rng)
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
        loss = float(loss)

        if self.clip_value is not None:
            grads = clip_by_value(grads, self.clip_value)
        if self.clip_norm is not None:
            grads, norm = clip_by_global_norm(grads, self.clip_norm)
        else:
            norm = global_norm(grads)
        self.loss_history.append(loss)
        self.grad_norm_history.append(norm)
        if not (math.isfinite(norm) and math.isfinite(loss)):
            # An update with an inf/nan gradient would destroy the parameters for good.
            self.skipped_steps += 1
            return loss
        for p, w in self.model.params.items():
            next_w, self.optim_configs[p] = self.update_rule(w, grads[p], self.optim_configs[p])
            self.model.params[p] = next_w
        return loss

    # ------------------------------------------------------------------ evaluation
    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Classification accuracy of the model on (X, y), CS231n style.

        Inputs:
        - X: array of shape (N, ...), the inputs.
        - y: int array of shape (N,), the labels.
        - num_samples: if set, accuracy on a random subsample of this size.
        - batch_size: inputs scored per call to ``model.loss(X)``.

        Returns the fraction of correctly classified inputs.
        """
        N = X.shape[0]
        if len(y) != N:
            raise ValueError(f"y must have length X.shape[0] = {N}, got {len(y)}")
        if num_samples is not None and N > num_samples:
            idx = self.rng.choice(N, num_samples)
            X, y, N = X[idx], y[idx], num_samples
        preds = []
        for start in range(0, N, batch_size):
            scores = self.model.loss(X[start : start + batch_size])
            preds.append(np.argmax(scores, axis=1))
        return float(np.mean(np.concatenate(preds) == y))

    def _snapshot_params(self):
        return {k: v.copy() for k, v in self.model.params.items()}

    def _validate(self):
        """Run the validation hooks; True if the model is the best seen so far."""
        improved = False
        if self.val_fn is not None:
            val = float(self.val_fn(self.model))
            self.val_history.append((self.iteration, val))
            if val < self.best_val_loss:
                self.best_val_loss = val
                self.best_params = self._snapshot_params()
                improved = True
            self._log(f"(Iteration {self.iteration}) val loss: {val:.4f}")
        elif self._classification and "X_val" in self.data:
            train_acc = self.check_accuracy(
                self.data["X_train"], self.data["y_train"], num_samples=self.num_train_samples
            )
            val_acc = self.check_accuracy(
                self.data["X_val"], self.data["y_val"], num_samples=self.num_val_samples
            )
            self.train_acc_history.append(train_acc)
            self.val_acc_history.append(val_acc)
            self._log(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; "
                      f"val_acc: {val_acc:f}")
            if val_acc > self.best_val_acc:
                self.best_val_acc = val_acc
                self.best_params = self._snapshot_params()
                improved = True
        return improved

    @property
    def num_epochs(self):
        return math.ceil(self.num_iterations / self.iterations_per_epoch)

    def _log(self, message):
        if self.verbose:
            tqdm.write(message)

    # ------------------------------------------------------------------ training
    def train(self):
        """Train until num_iterations (or time_limit); continues from a resumed checkpoint.

        Returns self, so ``Solver(...).train().loss_history`` works.
        """
        start = time.perf_counter()
        elapsed_before = self.elapsed
        bar = tqdm(
            total=self.num_iterations,
            initial=self.iteration,
            disable=not self.progress,
            desc="train",
            dynamic_ncols=True,
        )
        try:
            while self.iteration < self.num_iterations:
                loss = self._step()
                t = self.iteration
                self.iteration += 1
                bar.update(1)
                if t % self.print_every == 0:
                    bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                    if not self.progress:
                        self._log(f"(Iteration {t + 1} / {self.num_iterations}) loss: {loss:f}")
                epoch_end = self.iteration % self.iterations_per_epoch == 0
                if epoch_end:
                    self.epoch += 1
                    for config in self.optim_configs.values():
                        if "learning_rate" in config:
                            config["learning_rate"] *= self.lr_decay
                self.elapsed = elapsed_before + time.perf_counter() - start
                out_of_time = self.time_limit is not None and self.elapsed >= self.time_limit
                last = self.iteration == self.num_iterations or out_of_time
                if self.val_every is not None:
                    validate = self.iteration % self.val_every == 0
                else:
                    validate = epoch_end or (t == 0 and self._classification)
                improved = self._validate() if (validate or last) else False
                if self.checkpoint_path is not None:
                    if improved:
                        self.save_checkpoint(self._best_path())
                    every = self.checkpoint_every or self.iterations_per_epoch
                    if self.iteration % every == 0 or last:
                        self.save_checkpoint(self.checkpoint_path)
                if out_of_time:
                    self._log(f"time limit of {self.time_limit} s reached at iteration "
                              f"{self.iteration}")
                    break
        finally:
            bar.close()
            self.elapsed = elapsed_before + time.perf_counter() - start
        if self.keep_best and self.best_params:
            self.model.params.update({k: v.copy() for k, v in self.best_params.items()})
        return self

    def _best_path(self):
        npz, _ = checkpoint_files(self.checkpoint_path)
        return npz.with_name(npz.stem + "-best")

    # ------------------------------------------------------------------ checkpoints
    def _owner_state(self):
        owner = getattr(self.sample_batch, "__self__", None)
        if owner is not self and hasattr(owner, "state_dict"):
            return owner
        return None

    def save_checkpoint(self, path=None):
        """Write ``<path>.npz`` (parameters, optimizer state, best parameters, carried state)
        and ``<path>.json`` (everything else), each atomically. Returns the npz path."""
        path = path if path is not None else self.checkpoint_path
        if path is None:
            raise ValueError("path must be given when the Solver has no checkpoint_path")
        npz_path, json_path = checkpoint_files(path)
        arrays, optim_scalars = {}, {}
        for p, w in self.model.params.items():
            arrays[f"param/{p}"] = w
            optim_scalars[p] = {}
            for key, value in self.optim_configs[p].items():
                if isinstance(value, np.ndarray):
                    arrays[f"optim/{p}/{key}"] = value
                else:
                    optim_scalars[p][key] = _jsonable(value)
        for p, w in self.best_params.items():
            arrays[f"best/{p}"] = w
        if isinstance(self.state, dict):
            for key, value in self.state.items():
                arrays[f"state/{key}"] = value
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        npz_bytes = buf.getvalue()

        model_rng = getattr(self.model, "rng", None)
        owner = self._owner_state()
        meta = {
            "format": _FORMAT,
            "version": 1,
            "npz": npz_path.name,
            "npz_sha256": hashlib.sha256(npz_bytes).hexdigest(),
            "iteration": self.iteration,
            "epoch": self.epoch,
            "num_iterations": self.num_iterations,
            "elapsed_seconds": self.elapsed,
            "update_rule": self.update_rule_name,
            "optim_scalars": optim_scalars,
            "seed": self.seed,
            "rng_state": _jsonable(self.rng.bit_generator.state),
            "model_rng_state": (
                _jsonable(model_rng.bit_generator.state)
                if isinstance(model_rng, np.random.Generator) else None
            ),
            "batcher_state": _jsonable(owner.state_dict()) if owner is not None else None,
            "has_state": isinstance(self.state, dict),
            "skipped_steps": self.skipped_steps,
            "loss_history": self.loss_history,
            "grad_norm_history": self.grad_norm_history,
            "val_history": [list(v) for v in self.val_history],
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
            "best_val_loss": self.best_val_loss if math.isfinite(self.best_val_loss) else None,
            "best_val_acc": self.best_val_acc if math.isfinite(self.best_val_acc) else None,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "metadata": _jsonable(self.metadata),
        }
        # The npz goes first: a JSON file always describes an npz that is complete on disk,
        # and its hash lets resume() detect a pair torn by a crash between the two writes.
        atomic_write_bytes(npz_path, npz_bytes)
        atomic_write_bytes(json_path, json.dumps(_jsonable(meta), indent=1).encode())
        return npz_path

    def resume(self, path=None):
        """Load a checkpoint written by save_checkpoint into this Solver and its model.

        The Solver must have been built with the same model architecture and settings. After
        resume(), train() continues from the saved iteration, with the saved optimizer state,
        histories, random generators and carried state. Returns self.
        """
        path = path if path is not None else self.checkpoint_path
        if path is None:
            raise ValueError("path must be given when the Solver has no checkpoint_path")
        npz_path, json_path = checkpoint_files(path)
        meta = json.loads(json_path.read_text())
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{json_path} is not an rnnlib Solver checkpoint")
        npz_bytes = npz_path.read_bytes()
        if hashlib.sha256(npz_bytes).hexdigest() != meta["npz_sha256"]:
            raise ValueError(f"{npz_path} does not match {json_path} (interrupted write?)")
        with np.load(io.BytesIO(npz_bytes)) as z:
            arrays = {k: z[k] for k in z.files}

        params = self.model.params
        saved = {k[len("param/"):] for k in arrays if k.startswith("param/")}
        if saved != set(params):
            raise ValueError(
                f"checkpoint parameters {sorted(saved)} do not match the model's {sorted(params)}"
            )
        for p in params:
            w = arrays[f"param/{p}"]
            if w.shape != params[p].shape:
                raise ValueError(
                    f"checkpoint parameter {p} has shape {w.shape}, the model's is "
                    f"{params[p].shape}"
                )
            params[p] = w.astype(params[p].dtype, copy=False)
        self.optim_configs = {}
        for p in params:
            config = dict(meta["optim_scalars"][p])
            prefix = f"optim/{p}/"
            for k, v in arrays.items():
                if k.startswith(prefix):
                    config[k[len(prefix):]] = v
            self.optim_configs[p] = config
        self.best_params = {k[5:]: v for k, v in arrays.items() if k.startswith("best/")}
        state = {k[6:]: v for k, v in arrays.items() if k.startswith("state/")}
        self.state = state if meta["has_state"] else None

        self.iteration = meta["iteration"]
        self.epoch = meta["epoch"]
        self.elapsed = meta["elapsed_seconds"]
        self.skipped_steps = meta["skipped_steps"]
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = meta["rng_state"]
        model_rng = getattr(self.model, "rng", None)
        if meta["model_rng_state"] is not None and isinstance(model_rng, np.random.Generator):
            model_rng.bit_generator.state = meta["model_rng_state"]
        owner = self._owner_state()
        if owner is not None and meta["batcher_state"] is not None:
            owner.load_state_dict(meta["batcher_state"])
        self.loss_history = list(meta["loss_history"])
        self.grad_norm_history = list(meta["grad_norm_history"])
        self.val_history = [tuple(v) for v in meta["val_history"]]
        self.train_acc_history = list(meta["train_acc_history"])
        self.val_acc_history = list(meta["val_acc_history"])
        bvl, bva = meta["best_val_loss"], meta["best_val_acc"]
        self.best_val_loss = math.inf if bvl is None else bvl
        self.best_val_acc = -math.inf if bva is None else bva
        return self
