"""rnnlib.training.Trainer: step-indexed schedules, replays, exact resume, callbacks, policies."""

import json
import math

import numpy as np
import pytest

from rnnlib import checkpoint
from rnnlib.data import BPTTBatcher
from rnnlib.training import (
    Callback,
    Checkpoints,
    Model,
    Trainer,
    cosine_schedule,
    linear_schedule,
    lr_at,
    step_schedule,
)


class NoisyRegression:
    """Least squares with dropout-like noise from the model's own generator and a carried
    state (the last prediction): every piece an exact resume has to restore."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {"w": rng.standard_normal(3), "b": np.zeros(1)}
        self.rng = np.random.default_rng(seed + 1)

    def loss(self, x, y, h0=None):
        keep = self.rng.random(x.shape) < 0.9
        carried = 0.0 if h0 is None else 0.1 * h0["h"]
        pred = (x * keep) @ self.params["w"] + self.params["b"][0] + carried
        err = pred - y
        grads = {"w": (x * keep).T @ err / len(y), "b": np.array([err.mean()])}
        return float((err ** 2).mean() / 2), grads, {"h": pred.copy()}


def regression_batches(rng):
    x = rng.standard_normal((8, 3))
    return {"x": x, "y": x @ np.array([1.0, -2.0, 0.5]) + 0.3}


class Recorder(Callback):
    """Records the learning rate of every step and keeps a running count across resumes."""

    def __init__(self):
        self.lrs, self.count = [], 0

    def on_step(self, trainer):
        self.lrs.append(trainer.learning_rate)
        self.count += 1

    def state_dict(self):
        return {"recorder_count": self.count}

    def load_state_dict(self, tree):
        self.count = tree["recorder_count"]


def make(num_steps=40, **kwargs):
    model = NoisyRegression()
    kwargs.setdefault("schedule", cosine_schedule(0.05, num_steps))
    return Trainer(model, regression_batches, num_steps=num_steps, update_rule="adam",
                   optim_config={"learning_rate": 0.05}, clip_norm=1.0, seed=4, **kwargs)


def test_schedule_follows_the_step_index_not_the_clock():
    full = Recorder()
    make(callbacks=[full]).run()
    # A time limit stops the run early; the learning rates of the steps it did are the same.
    short = Recorder()
    t = make(callbacks=[short], time_limit=0.0)
    t.run()
    assert t.stopping == "time limit" and t.iteration == 1
    assert short.lrs == full.lrs[:1]
    assert full.lrs[0] == pytest.approx(0.05) and full.lrs[-1] == pytest.approx(
        lr_at("cosine", 0.05, 39 / 40))
    assert full.lrs == sorted(full.lrs, reverse=True)  # it anneals over the declared steps


def test_a_replay_of_the_first_steps_matches_bit_for_bit():
    full = make(record_first=5).run()
    replay = make(record_first=5).run(stop_at=5)
    assert replay.iteration == 5 and replay.stopping == "stop_at"
    assert replay.first_losses == full.first_losses == full.loss_history[:5]
    assert len(full.first_losses) == 5
    # The recorded losses survive a JSON round trip exactly.
    assert json.loads(json.dumps(full.first_losses)) == full.first_losses


def test_resume_continues_exactly(tmp_path):
    full_rec = Recorder()
    full = make(callbacks=[full_rec]).run()
    ckpt = tmp_path / "ck" / "last"
    make(callbacks=[Recorder(), Checkpoints(ckpt, every=10)]).run(stop_at=17)
    assert checkpoint.exists(ckpt)
    tree = checkpoint.load(ckpt)
    assert tree["iteration"] == 17  # saved after the last step, not only every 10
    rec = Recorder()
    resumed = make(callbacks=[rec])
    resumed.model.params["w"][:] = 99.0  # everything must come from the checkpoint
    resumed.restore(ckpt).run()
    assert resumed.loss_history == full.loss_history
    assert resumed.grad_norm_history == full.grad_norm_history
    for k in full.params:
        np.testing.assert_array_equal(resumed.params[k], full.params[k])
    assert rec.count == full_rec.count == 40
    assert rec.lrs == full_rec.lrs[17:]


def test_resume_restores_the_batcher_position(tmp_path):
    def run(stop_at=None, restore=None):
        batcher = BPTTBatcher(np.arange(200) % 7, batch_size=2, seq_len=5)
        model = Model({"w": np.zeros(1)}, lambda x, y, h0=None: (float(x.sum()), {"w": np.ones(1)}))
        t = Trainer(model, batcher.sample_batch, num_steps=30, optim_config={"learning_rate": 0})
        if restore:
            t.restore(restore)
        t.run(stop_at=stop_at)
        return t

    full = run()
    part = run(stop_at=23)
    part.save(tmp_path / "c")
    assert run(restore=tmp_path / "c").loss_history == full.loss_history


def test_checkpoint_pair_is_checked(tmp_path):
    t = make().run(stop_at=3)
    npz = t.save(tmp_path / "c")
    meta = json.loads(checkpoint.checkpoint_files(tmp_path / "c")[1].read_text())
    assert meta["format"] == checkpoint.FORMAT and meta["iteration"] == 3
    with np.load(npz) as z:
        assert {"param/w", "param/b", "optim/w/m", "optim/w/v", "state/h"} <= set(z.files)
    npz.write_bytes(npz.read_bytes()[:-10])
    with pytest.raises(ValueError, match="does not match"):
        checkpoint.load(tmp_path / "c")


def test_split_and_join_arrays_round_trip():
    tree = {"a": np.arange(3), "b": {"c": np.ones(2), "d": 5, "e": {}}, "f": None, "g": [1]}
    arrays, rest = checkpoint.split_arrays(tree)
    assert set(arrays) == {"a", "b/c"} and rest == {"b": {"d": 5, "e": {}}, "f": None, "g": [1]}
    back = checkpoint.join_arrays(rest, arrays)
    np.testing.assert_array_equal(back["b"]["c"], np.ones(2))
    with pytest.raises(ValueError, match="/"):
        checkpoint.split_arrays({"a/b": 1})


def test_non_finite_policies():
    def losses(values):
        it = iter(values)
        return Model({"w": np.zeros(1)}, lambda: (next(it), {"w": np.ones(1)}))

    skip = Trainer(losses([1.0, math.nan, 2.0]), lambda rng: (), num_steps=3,
                   optim_config={"learning_rate": 1.0})
    skip.run()
    assert skip.iteration == 3 and skip.skipped_steps == 1
    np.testing.assert_array_equal(skip.params["w"], [-2.0])  # two updates, the nan skipped
    stop = Trainer(losses([1.0, math.inf, 2.0]), lambda rng: (), num_steps=3,
                   optim_config={"learning_rate": 1.0}, non_finite="stop")
    stop.run()
    assert stop.stopping == "non-finite loss" and stop.iteration == 2
    np.testing.assert_array_equal(stop.params["w"], [-1.0])


def test_function_callbacks_and_due():
    seen = []
    t = Trainer(Model({"w": np.zeros(1)}, lambda: (0.0, {"w": np.zeros(1)})), lambda rng: (),
                num_steps=7, callbacks=[lambda tr: seen.append(tr.iteration) if tr.due(3) else 0])
    t.run()
    assert seen == [3, 6, 7]  # every third step and the last


def test_schedules():
    f = step_schedule("cosine", 1.0, 10, min_frac=0.0)
    assert f(0) == 1.0 and f(5) == pytest.approx(0.5) and f(10) == pytest.approx(0.0)
    assert step_schedule("constant", 3.0, None)(123) == 3.0
    with pytest.raises(ValueError, match="step index"):
        step_schedule("cosine", 1.0, None)
    g = linear_schedule(2.0, 4)
    assert [g(s) for s in range(5)] == pytest.approx([2.0, 1.55, 1.1, 0.65, 0.2])


def test_a_run_must_end():
    with pytest.raises(ValueError, match="num_steps or time_limit"):
        Trainer(NoisyRegression(), regression_batches)
