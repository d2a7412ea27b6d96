"""rnnlib: the NumPy reference library of *Recurrent Networks from Scratch*.

Layers follow the CS231n assignment conventions: ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> grads``. Shapes use N (batch), T (time), D (input), H (hidden),
V (vocabulary) and W (word-vector size).
"""

__version__ = "0.1.0"
