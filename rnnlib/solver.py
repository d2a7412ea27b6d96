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

The Solver is the CS231n face of `rnnlib.training.Trainer`, the loop every model of the
course trains with: the Trainer does the steps, clipping, updates and checkpoints (one
`rnnlib.checkpoint` format); the Solver adds the CS231n samplers, the per-epoch learning-rate
decay, validation, the best-model checkpoint and ``keep_best``. Every random choice goes
through ``np.random.default_rng(seed)``, so two runs with the same seed (and a deterministic
model) give the same loss history, and a resumed run continues exactly as an uninterrupted
one (a model's own ``rng``, used for dropout, is checkpointed too).

Example::

    solver = Solver(model, update_rule="adam", optim_config={"learning_rate": 2e-3},
                    sample_batch=batcher.sample_batch, iterations_per_epoch=len(batcher),
                    num_epochs=5, clip_norm=5.0, val_fn=lambda m: evaluate(m, val_ids),
                    checkpoint_path="runs/charlm/ckpt", seed=0)
    solver.train()
"""

import math

import numpy as np
from tqdm import tqdm

from rnnlib.checkpoint import checkpoint_files
from rnnlib.training import Callback, Progress, Trainer

__all__ = ["Solver", "checkpoint_files"]


def _default_sampler(solver, data, batch_size):
    """The CS231n sampler for classification or captioning data, and its epoch length."""
    if data is not None and {"X_train", "y_train"} <= data.keys():
        solver._classification = True
        return solver._sample_classification, max(len(data["X_train"]) // batch_size, 1)
    if data is not None and {"train_features", "train_captions"} <= data.keys():
        return solver._sample_captions, max(len(data["train_captions"]) // batch_size, 1)
    raise ValueError(
        "give sample_batch, or data with X_train/y_train or train_features/train_captions")


def _epoch_length(sample_batch, iterations_per_epoch, num_iterations):
    """Updates per epoch for a given sample_batch (see the Solver's docstring)."""
    if iterations_per_epoch is not None:
        return iterations_per_epoch
    owner = getattr(sample_batch, "__self__", None)
    if hasattr(owner, "__len__"):
        return len(owner)
    if num_iterations is not None:
        return num_iterations  # the whole run is one epoch
    raise ValueError(
        "iterations_per_epoch or num_iterations must be given when sample_batch has no length")


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
        self.model, self.data = model, data
        self.lr_decay, self.batch_size = float(lr_decay), int(batch_size)
        self.val_fn, self.val_every, self.keep_best = val_fn, val_every, keep_best
        self.print_every, self.verbose = max(int(print_every), 1), verbose
        self.progress = verbose if progress is None else progress
        self.checkpoint_path, self.checkpoint_every = checkpoint_path, checkpoint_every
        self.num_train_samples, self.num_val_samples = num_train_samples, num_val_samples
        self._classification = False
        if sample_batch is None:
            sample_batch, epoch = _default_sampler(self, data, self.batch_size)
            iterations_per_epoch = iterations_per_epoch or epoch
        self.sample_batch = sample_batch
        self.iterations_per_epoch = max(int(_epoch_length(
            sample_batch, iterations_per_epoch, num_iterations)), 1)
        if num_iterations is None:
            num_iterations = int(num_epochs) * self.iterations_per_epoch
        self.num_iterations = int(num_iterations)
        self.val_history, self.train_acc_history, self.val_acc_history = [], [], []
        self.best_val_loss, self.best_val_acc, self.best_params = math.inf, -math.inf, {}
        self.trainer = Trainer(
            model, sample_batch, num_steps=self.num_iterations, update_rule=update_rule,
            optim_config=optim_config, clip_norm=clip_norm, clip_value=clip_value,
            time_limit=time_limit, seed=seed, steps_per_epoch=self.iterations_per_epoch,
            metadata=metadata, callbacks=[Progress("train", self.print_every, self.progress),
                                          _SolverHooks(self)])

    # The Trainer keeps the loop's state; these are the CS231n Solver's names for it.
    rng = property(lambda self: self.trainer.rng)
    iteration = property(lambda self: self.trainer.iteration)
    epoch = property(lambda self: self.trainer.epoch)
    elapsed = property(lambda self: self.trainer.elapsed)
    skipped_steps = property(lambda self: self.trainer.skipped_steps)
    state = property(lambda self: self.trainer.state)
    loss_history = property(lambda self: self.trainer.loss_history)
    grad_norm_history = property(lambda self: self.trainer.grad_norm_history)
    optim_configs = property(lambda self: self.trainer.optim_configs)
    update_rule = property(lambda self: self.trainer.update_rule)
    update_rule_name = property(lambda self: self.trainer.update_rule_name)
    optim_config = property(lambda self: self.trainer.optim_config)
    clip_norm = property(lambda self: self.trainer.clip_norm)
    clip_value = property(lambda self: self.trainer.clip_value)
    time_limit = property(lambda self: self.trainer.time_limit)
    seed = property(lambda self: self.trainer.seed)
    metadata = property(lambda self: self.trainer.metadata)

    @property
    def num_epochs(self):
        return math.ceil(self.num_iterations / self.iterations_per_epoch)

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
        if self.val_fn is not None:
            val = float(self.val_fn(self.model))
            self.val_history.append((self.iteration, val))
            self._log(f"(Iteration {self.iteration}) val loss: {val:.4f}")
            if val < self.best_val_loss:
                self.best_val_loss, self.best_params = val, self._snapshot_params()
                return True
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
                self.best_val_acc, self.best_params = val_acc, self._snapshot_params()
                return True
        return False

    def _log(self, message):
        if self.verbose:
            tqdm.write(message)

    # ------------------------------------------------------------------ training
    def train(self):
        """Train until num_iterations (or time_limit); continues from a resumed checkpoint.

        Returns self, so ``Solver(...).train().loss_history`` works.
        """
        self.trainer.run()
        if self.keep_best and self.best_params:
            self.model.params.update({k: v.copy() for k, v in self.best_params.items()})
        return self

    def _best_path(self):
        npz, _ = checkpoint_files(self.checkpoint_path)
        return npz.with_name(npz.stem + "-best")

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path=None):
        """Write ``<path>.npz`` (parameters, optimizer state, best parameters, carried state)
        and ``<path>.json`` (everything else), each atomically. Returns the npz path."""
        path = path if path is not None else self.checkpoint_path
        if path is None:
            raise ValueError("path must be given when the Solver has no checkpoint_path")
        return self.trainer.save(path)

    def resume(self, path=None):
        """Load a checkpoint written by save_checkpoint into this Solver and its model.

        The Solver must have been built with the same model architecture and settings. After
        resume(), train() continues from the saved iteration, with the saved optimizer state,
        histories, random generators and carried state. Returns self.
        """
        path = path if path is not None else self.checkpoint_path
        if path is None:
            raise ValueError("path must be given when the Solver has no checkpoint_path")
        self.trainer.restore(path)
        return self


class _SolverHooks(Callback):
    """What the Solver does after every step: log, decay, validate, checkpoint."""

    def __init__(self, solver):
        self.solver = solver

    def on_step(self, trainer):
        s, t = self.solver, trainer.iteration - 1
        if t % s.print_every == 0 and not s.progress:
            s._log(f"(Iteration {t + 1} / {s.num_iterations}) loss: {trainer.loss:f}")
        if trainer.epoch_end:
            for config in trainer.optim_configs.values():
                if "learning_rate" in config:
                    config["learning_rate"] *= s.lr_decay
        last = trainer.stopping is not None
        if s.val_every is not None:
            validate = trainer.iteration % s.val_every == 0
        else:
            validate = trainer.epoch_end or (t == 0 and s._classification)
        improved = s._validate() if (validate or last) else False
        if s.checkpoint_path is not None:
            if improved:
                s.save_checkpoint(s._best_path())
            every = s.checkpoint_every or s.iterations_per_epoch
            if trainer.iteration % every == 0 or last:
                s.save_checkpoint(s.checkpoint_path)
        if trainer.stopping == "time limit":
            s._log(f"time limit of {s.time_limit} s reached at iteration {trainer.iteration}")

    def state_dict(self):
        s = self.solver
        return {
            "best": s.best_params,
            "val_history": [list(v) for v in s.val_history],
            "train_acc_history": s.train_acc_history, "val_acc_history": s.val_acc_history,
            "best_val_loss": s.best_val_loss if math.isfinite(s.best_val_loss) else None,
            "best_val_acc": s.best_val_acc if math.isfinite(s.best_val_acc) else None,
        }

    def load_state_dict(self, tree):
        s = self.solver
        s.best_params = dict(tree["best"])
        s.val_history = [tuple(v) for v in tree["val_history"]]
        s.train_acc_history = list(tree["train_acc_history"])
        s.val_acc_history = list(tree["val_acc_history"])
        bvl, bva = tree["best_val_loss"], tree["best_val_acc"]
        s.best_val_loss = math.inf if bvl is None else bvl
        s.best_val_acc = -math.inf if bva is None else bva
