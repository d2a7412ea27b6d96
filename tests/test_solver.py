"""rnnlib.solver.Solver: training loop, histories, seeds, clipping, checkpoints and resume."""

import json
import math

import numpy as np
import pytest

from rnnlib.data import BPTTBatcher
from rnnlib.solver import Solver, checkpoint_files


class SoftmaxClassifier:
    """Linear softmax classifier: the smallest model with the CS231n model interface."""

    def __init__(self, D, C, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {"W": 0.01 * rng.standard_normal((D, C)), "b": np.zeros(C)}

    def loss(self, X, y=None):
        scores = X @ self.params["W"] + self.params["b"]
        if y is None:
            return scores
        shifted = scores - scores.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        N = X.shape[0]
        loss = -logp[np.arange(N), y].mean()
        dscores = np.exp(logp)
        dscores[np.arange(N), y] -= 1
        dscores /= N
        return loss, {"W": X.T @ dscores, "b": dscores.sum(axis=0)}


class DropoutNoiseModel(SoftmaxClassifier):
    """A classifier whose loss draws from the model's own generator, like dropout does."""

    def __init__(self, D, C, seed=0):
        super().__init__(D, C, seed)
        self.rng = np.random.default_rng(seed + 100)

    def loss(self, X, y=None):
        if y is None:
            return super().loss(X)
        keep = self.rng.random(X.shape) < 0.8
        return super().loss(X * keep / 0.8, y)


class StatefulModel:
    """Records the h0 it is given and returns a state, like CharRNN."""

    def __init__(self):
        self.params = {"w": np.array([3.0])}
        self.received = []

    def loss(self, x, y, h0=None):
        self.received.append(None if h0 is None else h0["h"].copy())
        w = self.params["w"]
        state = {"h": x[:, -1:].astype(np.float64)}
        return float((w[0] - 1) ** 2), {"w": 2 * (w - 1)}, state


def blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centers = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    X = centers[y] + rng.standard_normal((n, 2))
    return X, y


def classification_data():
    X, y = blobs(300)
    return {"X_train": X[:200], "y_train": y[:200], "X_val": X[200:], "y_val": y[200:]}


def test_trains_classifier_cs231n_style():
    model = SoftmaxClassifier(2, 3)
    solver = Solver(model, classification_data(), update_rule="sgd_momentum",
                    optim_config={"learning_rate": 0.1}, lr_decay=0.9, batch_size=50,
                    num_epochs=5, verbose=False)
    solver.train()
    assert solver.iterations_per_epoch == 4 and solver.num_iterations == 20
    assert len(solver.loss_history) == 20 and len(solver.grad_norm_history) == 20
    assert np.mean(solver.loss_history[-4:]) < 0.5 * solver.loss_history[0]
    # accuracy checked at the first iteration and at every epoch end, as CS231n does
    assert len(solver.val_acc_history) == 6
    assert solver.best_val_acc >= 0.9
    assert solver.epoch == 5
    assert solver.optim_configs["W"]["learning_rate"] == pytest.approx(0.1 * 0.9**5)
    # the model ends with the best parameters seen
    np.testing.assert_array_equal(model.params["W"], solver.best_params["W"])


def test_same_seed_same_run_and_other_seed_differs():
    def run(seed):
        model = DropoutNoiseModel(2, 3)
        return Solver(model, classification_data(), update_rule="adam", batch_size=20,
                      num_iterations=15, seed=seed, verbose=False).train()

    a, b, c = run(0), run(0), run(1)
    assert a.loss_history == b.loss_history
    np.testing.assert_array_equal(a.model.params["W"], b.model.params["W"])
    assert a.loss_history != c.loss_history


def test_resume_continues_exactly(tmp_path):
    data = classification_data()
    kwargs = dict(update_rule="adam", optim_config={"learning_rate": 0.05}, lr_decay=0.5,
                  batch_size=20, seed=3, verbose=False, keep_best=False,
                  val_fn=lambda m: float(np.abs(m.loss(data["X_val"])).mean()))
    full = Solver(DropoutNoiseModel(2, 3), data, num_iterations=25, **kwargs).train()

    ckpt = tmp_path / "run" / "ckpt"
    Solver(DropoutNoiseModel(2, 3), data, num_iterations=12, checkpoint_path=ckpt,
           **kwargs).train()
    # a fresh model with different initial weights: everything must come from the checkpoint
    resumed = Solver(DropoutNoiseModel(2, 3, seed=9), data, num_iterations=25, **kwargs)
    resumed.resume(ckpt)
    assert resumed.iteration == 12
    resumed.train()
    assert resumed.loss_history == full.loss_history
    # the interrupted run also validated at its last iteration (12), as every run does
    assert [v for v in resumed.val_history if v[0] != 12] == full.val_history
    for p in full.model.params:
        np.testing.assert_array_equal(resumed.model.params[p], full.model.params[p])
    assert resumed.optim_configs["W"]["t"] == 25
    assert resumed.optim_configs["W"]["learning_rate"] == full.optim_configs["W"]["learning_rate"]


def test_checkpoint_files_atomic_and_described(tmp_path):
    data = classification_data()
    ckpt = tmp_path / "ckpt.npz"
    solver = Solver(SoftmaxClassifier(2, 3), data, update_rule="adam", batch_size=50,
                    num_epochs=2, checkpoint_path=ckpt, verbose=False,
                    metadata={"model": "softmax", "D": 2})
    solver.train()
    npz, js = checkpoint_files(ckpt)
    assert npz == tmp_path / "ckpt.npz" and js == tmp_path / "ckpt.json"
    names = sorted(p.name for p in tmp_path.iterdir())
    # no temporary files left behind; a best-validation checkpoint next to the last one
    assert names == ["ckpt-best.json", "ckpt-best.npz", "ckpt.json", "ckpt.npz"]
    meta = json.loads(js.read_text())
    assert meta["iteration"] == 8 and meta["epoch"] == 2
    assert meta["update_rule"] == "adam" and meta["metadata"] == {"model": "softmax", "D": 2}
    assert meta["optim_scalars"]["W"]["t"] == 8
    with np.load(npz) as z:
        assert {"param/W", "param/b", "optim/W/m", "optim/W/v", "best/W"} <= set(z.files)
        np.testing.assert_array_equal(z["param/W"], solver.model.params["W"])


def test_resume_rejects_torn_or_mismatched_checkpoint(tmp_path):
    data = classification_data()
    ckpt = tmp_path / "ckpt"
    Solver(SoftmaxClassifier(2, 3), data, batch_size=50, num_iterations=3,
           checkpoint_path=ckpt, verbose=False).train()
    npz, _ = checkpoint_files(ckpt)
    other = Solver(SoftmaxClassifier(2, 4), data, batch_size=50, num_iterations=3, verbose=False)
    with pytest.raises(ValueError, match="shape"):
        other.resume(ckpt)
    npz.write_bytes(npz.read_bytes()[:-10])
    with pytest.raises(ValueError, match="does not match"):
        Solver(SoftmaxClassifier(2, 3), data, batch_size=50, verbose=False).resume(ckpt)


def test_stateful_model_carries_state_and_resets_each_epoch():
    model = StatefulModel()
    batcher = BPTTBatcher(np.arange(41), batch_size=2, seq_len=5)  # 4 chunks per epoch
    solver = Solver(model, sample_batch=batcher.sample_batch, num_epochs=2, verbose=False,
                    optim_config={"learning_rate": 0.1})
    assert solver.iterations_per_epoch == 4
    solver.train()
    assert len(model.received) == 8
    for i, h0 in enumerate(model.received):
        if i % 4 == 0:
            assert h0 is None
        else:  # the state returned by the previous chunk: its last input per stream
            x_prev, _ = batcher.chunk(i % 4 - 1)
            np.testing.assert_array_equal(h0, x_prev[:, -1:])
    assert model.params["w"][0] < 3.0


def test_clip_norm_bounds_the_sgd_step_and_skips_non_finite():
    class Steep:
        def __init__(self):
            self.params = {"w": np.zeros(2)}
            self.calls = 0

        def loss(self, x):
            self.calls += 1
            g = np.array([300.0, 400.0]) if self.calls != 2 else np.array([np.nan, 1.0])
            return 0.0, {"w": g}

    model = Steep()
    solver = Solver(model, sample_batch=lambda rng: (None,), num_iterations=3,
                    optim_config={"learning_rate": 1.0}, clip_norm=5.0, verbose=False)
    solver.train()
    assert solver.grad_norm_history[0] == pytest.approx(500.0)
    assert not math.isfinite(solver.grad_norm_history[1])
    assert solver.skipped_steps == 1
    # two clipped steps of length 5 along -(3, 4)
    np.testing.assert_allclose(model.params["w"], [-6.0, -8.0])


def test_time_limit_stops_early():
    solver = Solver(SoftmaxClassifier(2, 3), classification_data(), batch_size=10,
                    num_iterations=1000, time_limit=0.0, verbose=False)
    solver.train()
    assert solver.iteration == 1


def test_verbose_false_prints_nothing(capsys):
    Solver(SoftmaxClassifier(2, 3), classification_data(), batch_size=50, num_epochs=1,
           verbose=False).train()
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_verbose_prints_progress(capsys):
    Solver(SoftmaxClassifier(2, 3), classification_data(), batch_size=50, num_epochs=1,
           verbose=True, progress=False, print_every=1).train()
    out = capsys.readouterr()
    assert "(Iteration 1 / 4) loss:" in out.out
    assert "val_acc" in out.out


def test_captioning_data_sampler_uses_image_indices():
    class Recorder:
        params = {"w": np.zeros(1)}

        def loss(self, features, captions):
            self.seen = (features.copy(), captions.copy())
            return 0.0, {"w": np.zeros(1)}

    data = {
        "train_features": np.arange(3)[:, None] * np.ones((3, 4)),
        "train_captions": np.array([[1, 0], [1, 1], [1, 2], [1, 2], [1, 0]]),
        "train_image_idxs": np.array([0, 1, 2, 2, 0]),
    }
    model = Recorder()
    solver = Solver(model, data, batch_size=4, num_iterations=1, verbose=False)
    assert solver.iterations_per_epoch == 1
    solver.train()
    features, captions = model.seen
    # caption row r belongs to image train_image_idxs[r]; here its last word names it
    np.testing.assert_array_equal(features[:, 0], captions[:, 1])


def test_plain_sample_batch_needs_a_length():
    model = SoftmaxClassifier(2, 3)
    X, y = blobs(20)
    with pytest.raises(ValueError, match="iterations_per_epoch"):
        Solver(model, sample_batch=lambda rng: (X, y))
    solver = Solver(model, sample_batch=lambda rng: (X, y), num_iterations=7, verbose=False)
    assert solver.iterations_per_epoch == 7 and solver.num_epochs == 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="update_rule"):
        Solver(SoftmaxClassifier(2, 3), classification_data(), update_rule="nope")
    with pytest.raises(ValueError, match="sample_batch"):
        Solver(SoftmaxClassifier(2, 3), {"foo": 1})
    with pytest.raises(ValueError, match="params"):
        Solver(object(), classification_data())
