"""A small NumPy CNN that turns a scene image into captioning features.

``SceneEncoder`` maps a (3, 32, 32) image to

- a feature grid of shape (D, P, P) (P = 8: one cell per 4x4 pixels), the input of the
  attention captioner, and
- a feature vector of shape (D,), the input of the rnn/lstm/gru captioners.

Architecture (every layer from rnnlib.conv / rnnlib.layers), with the default stages::

    image -> conv 3x3 stride 1 (16) -> relu -> conv 3x3 stride 2 (32) -> relu
          -> conv 3x3 stride 2 (32) -> relu -> residual block (32)
          -> conv 1x1 (D) -> relu = grid (D, 8, 8)
    grid  -> flatten -> affine (D) -> relu = vector (D,)

The first convolution keeps the full resolution: a small shape is only about 8 pixels wide,
and what tells a circle from a square is a few corner pixels that a strided first layer
would blur away.

It is trained on an auxiliary task built from the generator's labels, never from captions:

- dense: a 1x1 convolution on the grid predicts, at every cell, the shape, colour and size
  class of the object covering it (or "none"), which makes each grid cell describe what lies
  under it and so gives attention something to find;
- global: an affine layer on the vector predicts the shape, colour and size of the first,
  second and third object from the left (or "none"), which puts the layout the captions speak
  of ("left of") into the vector, which global average pooling would lose.

The loss is the mean of the two softmax cross-entropies; the model is trained with Adam.
"""

import numpy as np

from rnnlib import conv
from rnnlib.data import ShuffledBatches
from rnnlib.layers.affine import affine_backward, affine_forward
from rnnlib.layers.softmax import temporal_softmax_loss
from rnnlib.scenes import COLOUR_NAMES, MAX_OBJECTS, SHAPES, SIZE_NAMES, cell_targets
from rnnlib.training import Trainer, linear_schedule

# Classes of the three attribute heads, each with a leading "none" class.
HEAD_SIZES = (len(SHAPES) + 1, len(COLOUR_NAMES) + 1, len(SIZE_NAMES) + 1)


def images_to_input(images, dtype=np.float32):
    """uint8 images (N, S, S, 3) to centred network input (N, 3, S, S) in [-0.5, 0.5]."""
    return (images.transpose(0, 3, 1, 2).astype(dtype) / 255.0 - 0.5).astype(dtype)


def _xent(scores, y):
    """Mean softmax cross-entropy of scores (M, K) against labels y (M,) and its gradient."""
    M = scores.shape[0]
    loss, d = temporal_softmax_loss(scores[:, None, :], y[:, None], np.ones((M, 1), bool))
    return loss, d[:, 0, :]


def _heads_loss(scores, labels):
    """Sum over the three attribute heads of the cross-entropy of stacked scores (M, sum K)."""
    loss, dscores, start = 0.0, np.zeros_like(scores), 0
    for a, k in enumerate(HEAD_SIZES):
        la, da = _xent(scores[:, start:start + k], labels[:, a])
        loss += la
        dscores[:, start:start + k] = da
        start += k
    return loss, dscores


class SceneEncoder:
    """The image encoder; see the module docstring.

    Inputs to the constructor:
    - image_size: S, the side of the input images (a multiple of the product of the strides).
    - stages: sequence of (channels, stride) of the 3x3 convolutions before the residual block
      (padding 1); the grid side is P = S / (product of the strides).
    - feature_dim: D, channels of the grid and size of the vector.
    - seed: seed of the weight initialisation.
    - dtype: float dtype of the parameters and the computation.
    """

    def __init__(self, image_size=32, stages=((16, 1), (32, 2), (32, 2)), feature_dim=64,
                 seed=0, dtype=np.float32):
        stages = tuple((int(c), int(st)) for c, st in stages)
        down = int(np.prod([st for _, st in stages]))
        if image_size % down:
            raise ValueError(f"image_size must be a multiple of {down}, got {image_size}")
        rng = np.random.default_rng(seed)
        D, P, C = feature_dim, image_size // down, stages[-1][0]
        self.stages, self.grid_size, self.feature_dim, self.dtype = stages, P, D, dtype

        def he(shape, fan_in):
            return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)

        nh = sum(HEAD_SIZES)
        self.params = {}
        c_in = 3
        for i, (c, _) in enumerate(stages):
            self.params[f"conv{i}_w"] = he((c, c_in, 3, 3), 9 * c_in)
            self.params[f"conv{i}_b"] = np.zeros(c, dtype)
            c_in = c
        self.params |= {
            # The residual branch starts small so the block starts close to the identity.
            "res_w1": he((C, C, 3, 3), 9 * C), "res_b1": np.zeros(C, dtype),
            "res_w2": he((C, C, 3, 3), 9 * C) * dtype(0.1), "res_b2": np.zeros(C, dtype),
            "proj_w": he((D, C), C), "proj_b": np.zeros(D, dtype),
            "fc_w": he((D * P * P, D), D * P * P), "fc_b": np.zeros(D, dtype),
            "cell_w": he((nh, D), D) * dtype(0.1), "cell_b": np.zeros(nh, dtype),
            "slot_w": he((D, MAX_OBJECTS * nh), D) * dtype(0.1),
            "slot_b": np.zeros(MAX_OBJECTS * nh, dtype),
        }

    def _features(self, x):
        p = self.params
        h, stage_caches = x, []
        for i, (_, stride) in enumerate(self.stages):
            a, cc = conv.conv_forward(h, p[f"conv{i}_w"], p[f"conv{i}_b"],
                                      {"stride": stride, "pad": 1})
            h, rc = conv.relu_forward(a)
            stage_caches.append((cc, rc))
        h3, c3 = conv.residual_block_forward(h, p["res_w1"], p["res_b1"], p["res_w2"],
                                             p["res_b2"])
        a4, c4 = conv.conv1x1_forward(h3, p["proj_w"], p["proj_b"])
        grid, r4 = conv.relu_forward(a4)
        a5, c5 = affine_forward(grid.reshape(len(x), -1), p["fc_w"], p["fc_b"])
        vector, r5 = conv.relu_forward(a5)
        return vector, grid, (stage_caches, c3, c4, r4, c5, r5)

    def encode(self, images, batch_size=500):
        """Features of uint8 images (N, S, S, 3).

        Returns a tuple of:
        - vectors: (N, D) in the encoder's dtype.
        - grids: (N, D, P, P).
        """
        vecs, grids = [], []
        for i in range(0, len(images), batch_size):
            v, g, _ = self._features(images_to_input(images[i:i + batch_size], self.dtype))
            vecs.append(v)
            grids.append(g)
        return np.concatenate(vecs), np.concatenate(grids)

    def loss(self, images, cell_labels, slot_labels):
        """Auxiliary loss and gradients on a minibatch.

        Inputs:
        - images: uint8 (N, S, S, 3).
        - cell_labels: int (N, 3, P, P), per-cell shape/colour/size classes (0 = none).
        - slot_labels: int (N, M, 3), classes of the objects from the left (0 = none).

        Returns a tuple of:
        - loss: float, mean of the dense and the global cross-entropy.
        - grads: dict like self.params.
        """
        p, N, P = self.params, len(images), self.grid_size
        vector, grid, cache = self._features(images_to_input(images, self.dtype))
        stage_caches, c3, c4, r4, c5, r5 = cache
        nh = sum(HEAD_SIZES)

        cell_scores, cc = conv.conv1x1_forward(grid, p["cell_w"], p["cell_b"])
        flat_scores = cell_scores.transpose(0, 2, 3, 1).reshape(-1, nh)
        flat_labels = cell_labels.transpose(0, 2, 3, 1).reshape(-1, 3)
        # Both losses are means over their rows (cells, object slots); the total is their mean.
        cell_loss, dflat = _heads_loss(flat_scores, flat_labels)
        dcell = dflat.reshape(N, P, P, nh).transpose(0, 3, 1, 2) * self.dtype(0.5)

        slot_scores, sc = affine_forward(vector, p["slot_w"], p["slot_b"])
        slot_loss, dslot = _heads_loss(slot_scores.reshape(-1, nh), slot_labels.reshape(-1, 3))
        dslot = dslot.reshape(N, -1) * self.dtype(0.5)

        grads = {}
        dgrid, grads["cell_w"], grads["cell_b"] = conv.conv1x1_backward(dcell, cc)
        dvector, grads["slot_w"], grads["slot_b"] = affine_backward(dslot, sc)
        dflat_grid, grads["fc_w"], grads["fc_b"] = affine_backward(
            conv.relu_backward(dvector, r5), c5)
        dgrid = conv.relu_backward(dgrid + dflat_grid.reshape(grid.shape), r4)
        dh3, grads["proj_w"], grads["proj_b"] = conv.conv1x1_backward(dgrid, c4)
        dh, grads["res_w1"], grads["res_b1"], grads["res_w2"], grads["res_b2"] = (
            conv.residual_block_backward(dh3, c3))
        for i in reversed(range(len(self.stages))):
            cc, rc = stage_caches[i]
            dh, grads[f"conv{i}_w"], grads[f"conv{i}_b"] = conv.conv_backward(
                conv.relu_backward(dh, rc), cc)
        return (cell_loss + slot_loss) / 2, grads


def auxiliary_labels(data, grid_size):
    """The encoder's training targets from a generate_scenes() dict.

    Returns a tuple of:
    - cell_labels: int (N, 3, P, P), see scenes.cell_targets.
    - slot_labels: int (N, M, 3), the attributes of the objects from the left shifted by one,
      0 for an empty slot.
    """
    cell_labels, _ = cell_targets(data["attributes"], data["masks"], grid_size)
    return cell_labels, data["attributes"] + 1


def train_encoder(encoder, data, epochs=4, batch_size=64, lr=2e-3, seed=0, log=print,
                  stop_at=None):
    """Train a SceneEncoder on the auxiliary task with Adam (rnnlib.training.Trainer).

    Inputs:
    - encoder: a SceneEncoder (its params are updated in place).
    - data: a generate_scenes() dict (the training split).
    - epochs: passes over the data; the learning rate decays linearly to a tenth.
    - batch_size: images per step.
    - lr: Adam's initial learning rate.
    - seed: seed of the minibatch order.
    - log: function called with progress lines (or None).
    - stop_at: end after this many steps without changing the schedule (a replay).

    Returns:
    - history: dict with 'loss' (per step), 'time_s' (seconds of training), 'steps' and
      'first_losses' (the first ten losses, for a replay).
    """
    cell_labels, slot_labels = auxiliary_labels(data, encoder.grid_size)
    batches = ShuffledBatches(len(data["images"]), batch_size, sort=True, take=lambda idx, _: (
        data["images"][idx], cell_labels[idx], slot_labels[idx]))
    total = epochs * len(batches)

    def log_epoch(trainer):
        if log and trainer.epoch_end:
            recent = float(np.mean(trainer.loss_history[-len(batches):]))
            log(f"encoder epoch {trainer.epoch}/{epochs}: loss {recent:.4f} "
                f"({trainer.elapsed:.0f} s)")

    trainer = Trainer(encoder, batches, num_steps=total, update_rule="adam",
                      optim_config={"learning_rate": lr}, schedule=linear_schedule(lr, total),
                      seed=seed, steps_per_epoch=len(batches), callbacks=[log_epoch],
                      record_first=10).run(stop_at=stop_at)
    return {"loss": trainer.loss_history, "time_s": trainer.elapsed, "steps": trainer.iteration,
            "first_losses": trainer.first_losses}


def attribute_accuracy(encoder, data, batch_size=500):
    """Accuracy of the auxiliary heads on a split (a check that the features carry the scene).

    Returns a dict: 'cell' (per-cell accuracy of all three attributes together, over cells
    that hold an object) and 'slot' (accuracy of all three attributes of every present object).
    """
    cell_labels, slot_labels = auxiliary_labels(data, encoder.grid_size)
    p, nh = encoder.params, sum(HEAD_SIZES)
    vecs, grids = encoder.encode(data["images"], batch_size)
    cell_scores = np.einsum("ndhw,kd->nhwk", grids, p["cell_w"]) + p["cell_b"]
    slot_scores = (vecs @ p["slot_w"] + p["slot_b"]).reshape(len(vecs), MAX_OBJECTS, nh)

    def predict(scores):
        out, start = [], 0
        for k in HEAD_SIZES:
            out.append(scores[..., start:start + k].argmax(-1))
            start += k
        return np.stack(out, axis=-1)

    cell_pred = predict(cell_scores)                      # (N, P, P, 3)
    cell_true = cell_labels.transpose(0, 2, 3, 1)
    occupied = cell_true[..., 0] > 0
    cell_ok = np.all(cell_pred == cell_true, axis=-1)[occupied].mean()
    slot_pred = predict(slot_scores)
    present = slot_labels[..., 0] > 0
    slot_ok = np.all(slot_pred == slot_labels, axis=-1)[present].mean()
    return {"cell": float(cell_ok), "slot": float(slot_ok)}
