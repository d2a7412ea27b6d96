"""The numerical-gradient helpers students use (rnntools.gradcheck, re-exported by rnnlib)."""

import numpy as np

import rnnlib.gradcheck
import rnntools.gradcheck
from rnntools.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, rel_error


def test_rnnlib_reexports_the_student_copy():
    for name in ("eval_numerical_gradient", "eval_numerical_gradient_array", "rel_error"):
        assert getattr(rnnlib.gradcheck, name) is getattr(rnntools.gradcheck, name)


def test_rel_error_follows_cs231n():
    x = np.array([1.0, 2.0, 0.0])
    y = np.array([1.0, 2.5, 0.0])
    # max |x - y| / max(1e-8, |x| + |y|) over the entries: 0.5 / 4.5.
    assert rel_error(x, y) == 0.5 / 4.5
    assert rel_error(x, x) == 0.0
    # Near zero the 1e-8 floor keeps the ratio finite.
    assert rel_error(np.array([1e-12]), np.array([0.0])) == 1e-12 / 1e-8


def test_numerical_gradient_of_a_known_function():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    grad = eval_numerical_gradient(lambda x: np.sum(x ** 3), x.copy(), verbose=False)
    assert rel_error(grad, 3 * x ** 2) < 1e-8


def test_numerical_gradient_restores_x(capsys):
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    before = x.copy()
    eval_numerical_gradient(lambda x: np.sum(np.sin(x)), x, verbose=True)
    np.testing.assert_array_equal(x, before)
    # verbose prints one line per entry, with its index.
    assert capsys.readouterr().out.count("\n") == x.size


def test_numerical_gradient_array_is_the_vector_jacobian_product():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 4))
    x = rng.standard_normal((2, 3))
    df = rng.standard_normal((2, 4))
    grad = eval_numerical_gradient_array(lambda x: np.tanh(x @ W), x, df)
    analytic = (df * (1 - np.tanh(x @ W) ** 2)) @ W.T
    assert rel_error(grad, analytic) < 1e-8


def test_numerical_gradient_array_copes_with_f_returning_a_view_of_x():
    # f returning x itself would alias the perturbed array; the helper copies the outputs.
    x = np.array([1.0, -2.0, 3.0])
    df = np.array([0.5, 1.0, -1.0])
    grad = eval_numerical_gradient_array(lambda x: x, x, df)
    np.testing.assert_allclose(grad, df, rtol=1e-9)
