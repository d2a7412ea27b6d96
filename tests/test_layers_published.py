"""The layers reproduce the expected values published with the CS231n (Stanford) assignment 3
notebooks RNN_Captioning.ipynb / LSTM_Captioning.ipynb and the EECS 498-007/598-005 (Michigan)
assignment 4 notebook rnn_lstm_attention_captioning.ipynb, to a relative error below 1e-7.

The setups (linspace inputs) and the numbers are those of the notebooks; the test code is ours.
EECS 498 writes its layers in PyTorch, but with CS231n's layout for these functions: Wx (D, 4H),
Wh (H, 4H) and Wattn (H, 4H) multiply from the right, the gates are ordered i, f, o, g, and A is
(N, H, 4, 4). So its inputs carry over to NumPy unchanged; no transposes were needed.
"""

import numpy as np
import pytest

from rnnlib import layers as L
from rnntools.gradcheck import rel_error

TOL = 1e-7


def lin(lo, hi, *shape):
    return np.linspace(lo, hi, num=int(np.prod(shape))).reshape(shape)


def test_rnn_step_forward_cs231n():
    N, D, H = 3, 10, 4
    x = lin(-0.4, 0.7, N, D)
    prev_h = lin(-0.2, 0.5, N, H)
    Wx = lin(-0.1, 0.9, D, H)
    Wh = lin(-0.3, 0.7, H, H)
    b = lin(-0.2, 0.4, H)
    next_h, _ = L.rnn_step_forward(x, prev_h, Wx, Wh, b)
    expected_next_h = np.array([
        [-0.58172089, -0.50182032, -0.41232771, -0.31410098],
        [0.66854692, 0.79562378, 0.87755553, 0.92795967],
        [0.97934501, 0.99144213, 0.99646691, 0.99854353]])
    assert rel_error(expected_next_h, next_h) < TOL


def test_rnn_forward_cs231n():
    N, T, D, H = 2, 3, 4, 5
    x = lin(-0.1, 0.3, N, T, D)
    h0 = lin(-0.3, 0.1, N, H)
    Wx = lin(-0.2, 0.4, D, H)
    Wh = lin(-0.4, 0.1, H, H)
    b = lin(-0.7, 0.1, H)
    h, _ = L.rnn_forward(x, h0, Wx, Wh, b)
    expected_h = np.array([
        [[-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
         [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
         [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525]],
        [[-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
         [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
         [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043]]])
    assert rel_error(expected_h, h) < TOL


def test_word_embedding_forward_cs231n():
    V, D = 5, 3
    x = np.array([[0, 3, 1, 2], [2, 1, 0, 3]])
    W = lin(0, 1, V, D)
    out, _ = L.word_embedding_forward(x, W)
    expected_out = np.array([
        [[0., 0.07142857, 0.14285714],
         [0.64285714, 0.71428571, 0.78571429],
         [0.21428571, 0.28571429, 0.35714286],
         [0.42857143, 0.5, 0.57142857]],
        [[0.42857143, 0.5, 0.57142857],
         [0.21428571, 0.28571429, 0.35714286],
         [0., 0.07142857, 0.14285714],
         [0.64285714, 0.71428571, 0.78571429]]])
    assert rel_error(expected_out, out) < TOL


def _lstm_step_setup():
    N, D, H = 3, 4, 5
    return dict(
        x=lin(-0.4, 1.2, N, D),
        prev_h=lin(-0.3, 0.7, N, H),
        prev_c=lin(-0.4, 0.9, N, H),
        Wx=lin(-2.1, 1.3, D, 4 * H),
        Wh=lin(-0.7, 2.2, H, 4 * H),
        b=lin(0.3, 0.7, 4 * H),
    ), (N, H)


def test_lstm_step_forward_cs231n():
    p, _ = _lstm_step_setup()
    next_h, next_c, _ = L.lstm_step_forward(**p)
    expected_next_h = np.array([
        [0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
        [0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
        [0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299]])
    expected_next_c = np.array([
        [0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
        [0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
        [0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676]])
    assert rel_error(expected_next_h, next_h) < TOL
    assert rel_error(expected_next_c, next_c) < TOL


def test_lstm_step_forward_with_attention_eecs498():
    p, (N, H) = _lstm_step_setup()
    attn = lin(0.6, 1.8, N, H)
    Wattn = lin(1.3, 4.2, H, 4 * H)
    next_h, next_c, _ = L.lstm_step_forward(**p, attn=attn, Wattn=Wattn)
    expected_next_h = np.array([
        [0.53704256, 0.59980774, 0.65596820, 0.70569729, 0.74932626],
        [0.78729857, 0.82010653, 0.84828362, 0.87235677, 0.89283167],
        [0.91017981, 0.92483119, 0.93717126, 0.94754073, 0.95623746]])
    expected_next_c = np.array([
        [0.59999328, 0.69285041, 0.78570758, 0.87856479, 0.97142202],
        [1.06428558, 1.15714276, 1.24999992, 1.34285708, 1.43571424],
        [1.52857143, 1.62142857, 1.71428571, 1.80714286, 1.90000000]])
    assert rel_error(expected_next_h, next_h) < TOL
    assert rel_error(expected_next_c, next_c) < TOL


def test_lstm_forward_cs231n():
    N, D, H, T = 2, 5, 4, 3
    x = lin(-0.4, 0.6, N, T, D)
    h0 = lin(-0.4, 0.8, N, H)
    Wx = lin(-0.2, 0.9, D, 4 * H)
    Wh = lin(-0.3, 0.6, H, 4 * H)
    b = lin(0.2, 0.7, 4 * H)
    h, _ = L.lstm_forward(x, h0, Wx, Wh, b)
    expected_h = np.array([
        [[0.01764008, 0.01823233, 0.01882671, 0.0194232],
         [0.11287491, 0.12146228, 0.13018446, 0.13902939],
         [0.31358768, 0.33338627, 0.35304453, 0.37250975]],
        [[0.45767879, 0.4761092, 0.4936887, 0.51041945],
         [0.6704845, 0.69350089, 0.71486014, 0.7346449],
         [0.81733511, 0.83677871, 0.85403753, 0.86935314]]])
    assert rel_error(expected_h, h) < TOL


def test_dot_product_attention_forward_eecs498():
    N, H, P = 2, 5, 4
    prev_h = lin(-0.4, 0.6, N, H)
    A = lin(-0.4, 1.8, N, H, P, P)
    attn, attn_weights, _ = L.dot_product_attention_forward(prev_h, A)
    expected_attn = np.array([
        [-0.29784344, -0.07645979, 0.14492386, 0.36630751, 0.58769115],
        [0.81412643, 1.03551008, 1.25689373, 1.47827738, 1.69966103]])
    expected_attn_weights = np.array([
        [[0.06511126, 0.06475411, 0.06439892, 0.06404568],
         [0.06369438, 0.06334500, 0.06299754, 0.06265198],
         [0.06230832, 0.06196655, 0.06162665, 0.06128861],
         [0.06095243, 0.06061809, 0.06028559, 0.05995491]],
        [[0.05717142, 0.05784357, 0.05852362, 0.05921167],
         [0.05990781, 0.06061213, 0.06132473, 0.06204571],
         [0.06277517, 0.06351320, 0.06425991, 0.06501540],
         [0.06577977, 0.06655312, 0.06733557, 0.06812722]]])
    assert rel_error(expected_attn, attn) < TOL
    assert rel_error(expected_attn_weights, attn_weights) < TOL


def test_attention_lstm_forward_eecs498():
    N, D, H, T, P = 2, 5, 4, 3, 4
    x = lin(-0.4, 0.6, N, T, D)
    A = lin(-0.4, 1.8, N, H, P, P)
    Wx = lin(-0.2, 0.9, D, 4 * H)
    Wh = lin(-0.3, 0.6, H, 4 * H)
    Wattn = lin(1.3, 4.2, H, 4 * H)
    b = lin(0.2, 0.7, 4 * H)
    h, _ = L.attention_lstm_forward(x, A, Wx, Wh, Wattn, b)
    expected_h = np.array([
        [[0.56141729, 0.70274849, 0.80000386, 0.86349400],
         [0.89556391, 0.92856726, 0.94950579, 0.96281018],
         [0.96792077, 0.97535465, 0.98039623, 0.98392994]],
        [[0.95065880, 0.97135490, 0.98344373, 0.99045552],
         [0.99317679, 0.99607466, 0.99774317, 0.99870293],
         [0.99907382, 0.99946784, 0.99969426, 0.99982435]]])
    assert rel_error(expected_h, h) < TOL


@pytest.mark.parametrize(("N", "T", "V", "p", "lo", "hi"), [
    # CS231n's sanity check of temporal_softmax_loss: near-uniform scores give a loss of about
    # log(V) per counted position, summed over time and divided by N.
    (100, 1, 10, 1.0, 2.25, 2.36),
    (100, 10, 10, 1.0, 22.5, 23.6),
    (5000, 10, 10, 0.1, 2.0, 2.6),
])
def test_temporal_softmax_loss_sanity_cs231n(N, T, V, p, lo, hi):
    rng = np.random.default_rng(0)
    x = 0.001 * rng.standard_normal((N, T, V))
    y = rng.integers(V, size=(N, T))
    mask = rng.random((N, T)) <= p
    loss, dx = L.temporal_softmax_loss(x, y, mask)
    assert lo < loss < hi
    assert dx.shape == x.shape
