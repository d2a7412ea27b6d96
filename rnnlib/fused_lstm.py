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

__all__ = ["FusedCharLSTM"]


class _Layer:
    """The buffers of one LSTM layer for batches of N streams and at most T steps."""

    def __init__(self, T, N, H, dtype):
        self.G = np.empty((T, N, 4 * H), dtype)      # gates i, f, o, g; then their gradients
        self.C = np.empty((T + 1, N, H), dtype)      # cell states, C[0] = c0
        self.TC = np.empty((T, N, H), dtype)         # tanh of the cell states
        self.Hs = np.empty((T + 1, N, H), dtype)     # hidden states, Hs[0] = h0
        self.D = np.empty((T, N, H), dtype)          # the output after dropout
        self.keep = np.empty((N, T, H), bool)        # dropout mask, in dropout_forward's order
        self.seed = None                             # the mask's seed (None: no dropout)


class _Workspace:
    """Every buffer of the fused pass for N streams, at most T steps, one dtype."""

    def __init__(self, T, N, H, L, V, dtype):
        self.T, self.N = T, N
        self.layers = [_Layer(T, N, H, dtype) for _ in range(L)]
        self.tmp4 = np.empty((N, 4 * H), dtype)
        self.tmp3 = np.empty((N, 3 * H), dtype)
        self.u3 = np.empty((N, 3 * H), dtype)
        self.tmp = np.empty((N, H), dtype)
        self.dnext_h = np.empty((N, H), dtype)
        self.dnext_c = np.empty((N, H), dtype)
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
        if ws is None or ws.N != N or ws.T < T or ws.scores.dtype != m.dtype:
            ws = None  # free the old buffers before allocating the new ones
            self.ws = ws = _Workspace(T, N, m.hidden_dim, m.num_layers, m.vocab_size, m.dtype)
        return ws

    # ------------------------------------------------------------------ forward
    def forward(self, x, state, train):
        """Scores (T*N, V) time-major, and the final state; keeps what backward needs.

        Inputs:
        - x: int array (N, T) of character ids.
        - state: {'h': (L, N, H), 'c': (L, N, H)}, checked by the model.
        - train: bool, dropout on (the model's rate) when True.
        """
        m, p = self.model, self.model.params
        N, T = x.shape
        ws = self._workspace(N, T)
        self.x, self.T = x, T
        xt = x.T.reshape(-1)
        # The first layer's input projection is a row of (W_embed Wx1 + b1) per character.
        table = p["W_embed"] @ p["Wx1"]
        table += p["b1"]
        inp = None
        for layer in range(m.num_layers):
            buf = ws.layers[layer]
            G = buf.G[:T]
            if layer == 0:
                np.take(table, xt, axis=0, out=G.reshape(T * N, -1))
            else:
                np.matmul(inp.reshape(T * N, -1), p[f"Wx{layer + 1}"], out=G.reshape(T * N, -1))
                G += p[f"b{layer + 1}"]
            buf.Hs[0], buf.C[0] = state["h"][layer], state["c"][layer]
            self._recurrence(ws, buf, p[f"Wh{layer + 1}"], T)
            inp = self._dropout_forward(ws, buf, T, train)
        scores = ws.scores[:T * N]
        np.matmul(inp.reshape(T * N, -1), p["W_vocab"], out=scores)
        scores += p["b_vocab"]
        new_state = {"h": np.stack([b.Hs[T] for b in ws.layers[:m.num_layers]]),
                     "c": np.stack([b.C[T] for b in ws.layers[:m.num_layers]])}
        return scores, new_state

    @staticmethod
    def _recurrence(ws, buf, Wh, T):
        """Steps 1..T of one layer: gates in place in G, then C, TC and Hs."""
        H = Wh.shape[0]
        tmp4, tmp = ws.tmp4, ws.tmp
        for t in range(T):
            a = buf.G[t]
            np.matmul(buf.Hs[t], Wh, out=tmp4)
            a += tmp4
            sigmoid(a[:, :3 * H], out=a[:, :3 * H])  # i, f, o are adjacent
            g = a[:, 3 * H:]
            np.tanh(g, out=g)
            c = buf.C[t + 1]
            np.multiply(a[:, H:2 * H], buf.C[t], out=c)
            np.multiply(a[:, :H], g, out=tmp)
            c += tmp
            np.tanh(c, out=buf.TC[t])
            np.multiply(a[:, 2 * H:3 * H], buf.TC[t], out=buf.Hs[t + 1])

    def _dropout_forward(self, ws, buf, T, train):
        """The layer's output after dropout (the same masks as dropout_forward's)."""
        m = self.model
        out = buf.Hs[1:T + 1]
        if not (train and m.dropout > 0):
            buf.seed = None
            return out
        keep_p = 1.0 - m.dropout
        buf.seed = int(m.rng.integers(2**63))  # the reference layer's seed, same generator
        rng = np.random.default_rng(buf.seed)
        keep = buf.keep[:, :T]
        for n in range(keep.shape[0]):  # one stream at a time: the same stream of uniforms
            rng.random(out=ws.uniform[:T])
            np.less(ws.uniform[:T], keep_p, out=keep[n])
        D = buf.D[:T]
        np.multiply(out, keep.transpose(1, 0, 2), out=D)
        D *= m.dtype.type(1) / m.dtype.type(keep_p)  # as dropout_forward's mask value
        return D

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
        top = ws.layers[L - 1]
        out = top.Hs[1:T + 1] if top.seed is None else top.D[:T]
        np.matmul(out.reshape(T * N, -1).T, dscores, out=grads["W_vocab"])
        dscores.sum(axis=0, out=grads["b_vocab"])
        dH = ws.dH[:T]
        np.matmul(dscores, p["W_vocab"].T, out=dH.reshape(T * N, -1))
        for layer in reversed(range(L)):
            buf = ws.layers[layer]
            self._dropout_backward(buf, dH, T)
            self._recurrence_backward(ws, buf, p[f"Wh{layer + 1}"], dH, T)
            dA = buf.G[:T].reshape(T * N, -1)
            k = layer + 1
            np.matmul(buf.Hs[:T].reshape(T * N, -1).T, dA, out=grads[f"Wh{k}"])
            dA.sum(axis=0, out=grads[f"b{k}"])
            if layer > 0:
                below = ws.layers[layer - 1]
                inp = below.Hs[1:T + 1] if below.seed is None else below.D[:T]
                np.matmul(inp.reshape(T * N, -1).T, dA, out=grads[f"Wx{k}"])
                # dH is used up: the gradient of the layer below's output replaces it.
                np.matmul(dA, p[f"Wx{k}"].T, out=dH.reshape(T * N, -1))
        self._embedding_backward(ws, grads, T)
        return grads

    def _dropout_backward(self, buf, dH, T):
        if buf.seed is None:
            return
        dH *= buf.keep[:, :T].transpose(1, 0, 2)
        dH *= self.model.dtype.type(1) / self.model.dtype.type(1.0 - self.model.dropout)

    def _embedding_backward(self, ws, grads, T):
        """W_embed and Wx1 from the first layer's gate gradients, summed per character."""
        p, N = self.model.params, self.x.shape[0]
        dA = ws.layers[0].G[:T].reshape(T * N, -1)
        onehot = ws.onehot[:T * N]
        onehot[...] = 0
        onehot[np.arange(T * N), self.x.T.reshape(-1)] = 1
        per_char = onehot.T @ dA  # (V, 4H): the sum of dA over each character's positions
        np.matmul(p["W_embed"].T, per_char, out=grads["Wx1"])
        np.matmul(per_char, p["Wx1"].T, out=grads["W_embed"])

    @staticmethod
    def _recurrence_backward(ws, buf, Wh, dH, T):
        """Backpropagation through the T steps: buf.G[t] becomes the gates' gradient dA[t].

        dH (T, N, H) holds the gradient reaching every h_t from above; it is used up.
        """
        H = Wh.shape[0]
        dnext_h, dnext_c, dc, u3, s3 = ws.dnext_h, ws.dnext_c, ws.tmp, ws.u3, ws.tmp3
        dnext_c[...] = 0
        for t in reversed(range(T)):
            a, tc, dh = buf.G[t], buf.TC[t], dH[t]
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
            np.multiply(dc, buf.C[t], out=u3[:, H:2 * H])
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
