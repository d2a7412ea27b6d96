"""The character LSTM's training pass, fused: what CharRNN computes, over reused buffers.

Not graded, and not the course's reference: `CharRNN` with ``fused=False`` runs the graded
layer functions of rnnlib.layers (embedding, the LSTM, dropout, the temporal affine layer and
softmax loss), and tests check that this module computes the same loss, state and gradients
(to 1e-6 in float64, dropout masks included). It computes the same function faster:

- Everything is time-major, (T, N, ...), from the embedding to the scores: no transposed
  copies between layers.
- Buffers are allocated once per batch shape and reused at every step (no page faults, no
  temporaries in the per-step loops): hidden and cell states are stored as (T + 1, N, H) with
  the initial state in row 0, so the previous hidden states of all steps are one contiguous
  block for the weight gradient.
- The backward pass writes the gradient of the gate pre-activations over the gate values in
  place (step t's gates are not needed after step t), so there is no second (T, N, 4H) array.
- The first layer reads an embedding: the embedding times the first layer's input weights is
  one small (V, 4H) table, whose rows are gathered instead of a (T N, E) x (E, 4H) product;
  the backward pass sums the gate gradients per character with a one-hot product.
- Dropout masks are drawn exactly as dropout_forward draws them (float64 uniforms from a
  seed taken from the model's generator, in (N, T, H) order), but kept as booleans.

The sequential part, one (N, H) x (H, 4H) product per step and layer in each direction, stays
with the BLAS, as in the reference layers.
"""

import numpy as np

from rnntools.activations import sigmoid

__all__ = ["FusedCharLSTM", "LSTMLayer"]


class LSTMLayer:
    """One LSTM layer's buffers for N streams and at most T steps, and its two passes.

    Fill ``gates(T)`` (T, N, 4H) with the input projection x_t Wx + b of every step (gate
    columns i, f, o, g), then ``forward`` runs the recurrence from (h0, c0) and ``backward``
    turns the gates into their gradients dA in the same buffer. The previous hidden states
    of all steps, for dWh = sum_t h_{t-1}^T dA_t, are ``prev_h(T)``.
    """

    def __init__(self, T, N, H, dtype):
        self.T, self.N, self.dtype = T, N, np.dtype(dtype)
        self.G = np.empty((T, N, 4 * H), dtype)      # gates i, f, o, g; then their gradients
        self.C = np.empty((T + 1, N, H), dtype)      # cell states, C[0] = c0
        self.TC = np.empty((T, N, H), dtype)         # tanh of the cell states
        self.Hs = np.empty((T + 1, N, H), dtype)     # hidden states, Hs[0] = h0
        self.tmp4 = np.empty((N, 4 * H), dtype)
        self.tmp3 = np.empty((N, 3 * H), dtype)
        self.u3 = np.empty((N, 3 * H), dtype)
        self.tmp = np.empty((N, H), dtype)
        self.dh0 = np.empty((N, H), dtype)           # after backward: the gradient of h0 ...
        self.dc0 = np.empty((N, H), dtype)           # ... and of c0

    def fits(self, T, N, dtype):
        return self.N == N and self.T >= T and self.dtype == np.dtype(dtype)

    def gates(self, T):
        return self.G[:T]

    def prev_h(self, T):
        return self.Hs[:T]

    def forward(self, h0, c0, Wh, T):
        """Steps 1..T from (h0, c0): G becomes the gate values; returns h (T, N, H)."""
        H = Wh.shape[0]
        tmp4, tmp = self.tmp4, self.tmp
        self.Hs[0], self.C[0] = h0, c0
        for t in range(T):
            a = self.G[t]
            np.matmul(self.Hs[t], Wh, out=tmp4)
            a += tmp4
            sigmoid(a[:, :3 * H], out=a[:, :3 * H])  # i, f, o are adjacent
            g = a[:, 3 * H:]
            np.tanh(g, out=g)
            c = self.C[t + 1]
            np.multiply(a[:, H:2 * H], self.C[t], out=c)
            np.multiply(a[:, :H], g, out=tmp)
            c += tmp
            np.tanh(c, out=self.TC[t])
            np.multiply(a[:, 2 * H:3 * H], self.TC[t], out=self.Hs[t + 1])
        return self.Hs[1:T + 1]

    def backward(self, dH, Wh, T):
        """Backpropagation through the T steps; returns dA (T * N, 4H), a view of G.

        dH (T, N, H) holds the gradient reaching every h_t from outside; it is used up.
        Leaves the gradients of h0 and c0 in dh0 and dc0.
        """
        H = Wh.shape[0]
        dnext_h, dnext_c, dc, u3, s3 = self.dh0, self.dc0, self.tmp, self.u3, self.tmp3
        dnext_c[...] = 0
        for t in reversed(range(T)):
            a, tc, dh = self.G[t], self.TC[t], dH[t]
            i, f, o, g, ifo = (a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:],
                               a[:, :3 * H])
            if t < T - 1:
                dh += dnext_h
            # c_t reaches the loss directly (dnext_c) and through h_t = o * tanh(c_t).
            np.multiply(tc, tc, out=dc)
            np.subtract(1, dc, out=dc)
            dc *= o
            dc *= dh
            dc += dnext_c
            np.multiply(dc, f, out=dnext_c)
            # The upstream factors of i, f, o (before g and f are overwritten) ...
            np.multiply(dc, g, out=u3[:, :H])
            np.multiply(dc, self.C[t], out=u3[:, H:2 * H])
            np.multiply(dh, tc, out=u3[:, 2 * H:])
            # ... g's gradient dc * i * (1 - g^2), in place ...
            np.multiply(g, g, out=g)
            np.subtract(1, g, out=g)
            g *= i
            g *= dc
            # ... and i, f, o's: upstream times the sigmoid' s (1 - s).
            np.subtract(1, ifo, out=s3)
            s3 *= ifo
            np.multiply(u3, s3, out=ifo)
            np.matmul(a, Wh.T, out=dnext_h)
        if T == 0:
            dnext_h[...] = 0
        return self.G[:T].reshape(T * self.N, -1)


class _Workspace:
    """Every buffer of the fused model pass for N streams, at most T steps, one dtype."""

    def __init__(self, T, N, H, L, V, dtype):
        self.T, self.N = T, N
        self.layers = [LSTMLayer(T, N, H, dtype) for _ in range(L)]
        self.D = [np.empty((T, N, H), dtype) for _ in range(L)]  # outputs after dropout
        self.keep = [np.empty((N, T, H), bool) for _ in range(L)]  # dropout_forward's order
        self.seed = [None] * L                       # each mask's seed (None: no dropout)
        self.uniform = np.empty((T, H), np.float64)  # one stream's uniforms at a time
        self.scores = np.empty((T * N, V), dtype)
        self.dH = np.empty((T, N, H), dtype)
        self.onehot = np.empty((T * N, V), dtype)


class FusedCharLSTM:
    """The loss, state and gradients of a CharRNN with LSTM layers, on reused buffers.

    Inputs:
    - model: a CharRNN with cell_type 'lstm' (its params, dropout, dtype and rng are read at
      every call, so parameters replaced between calls are used).
    """

    def __init__(self, model):
        self.model = model
        self.ws = None

    def _workspace(self, N, T):
        m, ws = self.model, self.ws
        if ws is None or not ws.layers[0].fits(T, N, m.dtype):
            self.ws = ws = None  # free the old buffers before allocating the new ones
            self.ws = ws = _Workspace(T, N, m.hidden_dim, m.num_layers, m.vocab_size, m.dtype)
        return ws

    def _output(self, layer, T):
        """Layer `layer`'s output as the next layer reads it (after dropout, if any)."""
        ws = self.ws
        return ws.layers[layer].Hs[1:T + 1] if ws.seed[layer] is None else ws.D[layer][:T]

    # ------------------------------------------------------------------ forward
    def forward(self, x, state, train):
        """Scores (T*N, V) time-major, and the final state; keeps what backward needs.

        Inputs:
        - x: int array (N, T) of character ids.
        - state: {'h': (L, N, H), 'c': (L, N, H)}, checked by the model.
        - train: bool, dropout on (the model's rate) when True.

        The scores are a view of a buffer that the next call reuses.
        """
        m, p = self.model, self.model.params
        N, T = x.shape
        ws = self._workspace(N, T)
        self.x, self.T = x, T
        # The first layer's input projection is a row of (W_embed Wx1 + b1) per character.
        table = p["W_embed"] @ p["Wx1"]
        table += p["b1"]
        np.take(table, x.T.reshape(-1), axis=0, out=ws.layers[0].gates(T).reshape(T * N, -1))
        for layer, lstm in enumerate(ws.layers):
            if layer > 0:
                G = lstm.gates(T).reshape(T * N, -1)
                np.matmul(self._output(layer - 1, T).reshape(T * N, -1), p[f"Wx{layer + 1}"],
                          out=G)
                G += p[f"b{layer + 1}"]
            lstm.forward(state["h"][layer], state["c"][layer], p[f"Wh{layer + 1}"], T)
            self._dropout_forward(layer, T, train)
        scores = ws.scores[:T * N]
        np.matmul(self._output(m.num_layers - 1, T).reshape(T * N, -1), p["W_vocab"],
                  out=scores)
        scores += p["b_vocab"]
        new_state = {"h": np.stack([lstm.Hs[T] for lstm in ws.layers]),
                     "c": np.stack([lstm.C[T] for lstm in ws.layers])}
        return scores, new_state

    def _dropout_forward(self, layer, T, train):
        """Dropout on a layer's output, with the masks dropout_forward would draw."""
        m, ws = self.model, self.ws
        if not (train and m.dropout > 0):
            ws.seed[layer] = None
            return
        keep_p = 1.0 - m.dropout
        ws.seed[layer] = int(m.rng.integers(2**63))  # the reference's seed, same generator
        rng = np.random.default_rng(ws.seed[layer])
        keep = ws.keep[layer][:, :T]
        for n in range(keep.shape[0]):  # one stream at a time: the same stream of uniforms
            rng.random(out=ws.uniform[:T])
            np.less(ws.uniform[:T], keep_p, out=keep[n])
        D = ws.D[layer][:T]
        np.multiply(ws.layers[layer].Hs[1:T + 1], keep.transpose(1, 0, 2), out=D)
        D *= m.dtype.type(1) / m.dtype.type(keep_p)  # as dropout_forward's mask value

    # ------------------------------------------------------------------ loss and backward
    def loss(self, x, y, state, train):
        """Mean cross-entropy per character, its gradients and the final state.

        Inputs: x, y int arrays (N, T); state as for forward; train: dropout on.
        Returns (loss, grads, state) as CharRNN.loss; grads are fresh arrays.
        """
        scores, new_state = self.forward(x, state, train)
        loss, dscores = self._softmax_loss(scores, y.T.reshape(-1))
        return loss, self.backward(dscores), new_state

    def _softmax_loss(self, scores, targets):
        """The mean loss over the rows, and its gradient in place of the scores."""
        rows = np.arange(scores.shape[0])
        scores -= scores.max(axis=1, keepdims=True)
        picked = scores[rows, targets].astype(np.float64)
        np.exp(scores, out=scores)
        sums = scores.sum(axis=1, keepdims=True)
        loss = float(np.log(sums[:, 0].astype(np.float64)).sum() - picked.sum()) / len(rows)
        scores /= sums  # the softmax probabilities ...
        scores[rows, targets] -= 1  # ... minus the one-hot targets
        scores *= self.model.dtype.type(1) / self.model.dtype.type(len(rows))
        return loss, scores

    def backward(self, dscores):
        """Gradients of every parameter (a dict keyed like model.params) from dscores."""
        m, p, ws, T = self.model, self.model.params, self.ws, self.T
        L, N = m.num_layers, self.x.shape[0]
        grads = {k: np.empty_like(v) for k, v in p.items()}
        np.matmul(self._output(L - 1, T).reshape(T * N, -1).T, dscores, out=grads["W_vocab"])
        dscores.sum(axis=0, out=grads["b_vocab"])
        dH = ws.dH[:T]
        np.matmul(dscores, p["W_vocab"].T, out=dH.reshape(T * N, -1))
        for layer in reversed(range(L)):
            k, lstm = layer + 1, ws.layers[layer]
            self._dropout_backward(layer, dH, T)
            dA = lstm.backward(dH, p[f"Wh{k}"], T)
            np.matmul(lstm.prev_h(T).reshape(T * N, -1).T, dA, out=grads[f"Wh{k}"])
            dA.sum(axis=0, out=grads[f"b{k}"])
            if layer > 0:
                np.matmul(self._output(layer - 1, T).reshape(T * N, -1).T, dA,
                          out=grads[f"Wx{k}"])
                # dH is used up: the gradient of the layer below's output replaces it.
                np.matmul(dA, p[f"Wx{k}"].T, out=dH.reshape(T * N, -1))
        self._embedding_backward(grads, T)
        return grads

    def _dropout_backward(self, layer, dH, T):
        if self.ws.seed[layer] is None:
            return
        dH *= self.ws.keep[layer][:, :T].transpose(1, 0, 2)
        dH *= self.model.dtype.type(1) / self.model.dtype.type(1.0 - self.model.dropout)

    def _embedding_backward(self, grads, T):
        """W_embed and Wx1 from the first layer's gate gradients, summed per character."""
        p, N, ws = self.model.params, self.x.shape[0], self.ws
        dA = ws.layers[0].gates(T).reshape(T * N, -1)
        onehot = ws.onehot[:T * N]
        onehot[...] = 0
        onehot[np.arange(T * N), self.x.T.reshape(-1)] = 1
        per_char = onehot.T @ dA  # (V, 4H): the sum of dA over each character's positions
        np.matmul(p["W_embed"].T, per_char, out=grads["Wx1"])
        np.matmul(per_char, p["Wx1"].T, out=grads["W_embed"])
