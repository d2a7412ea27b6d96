"""CS231n-style layer functions: ``*_forward(...) -> (out, cache)``, ``*_backward(dout, cache)``.

One module per family; everything public is re-exported here, so that
``from rnnlib.layers import lstm_forward`` works.
"""

from rnnlib.layers.affine import (
    affine_backward,
    affine_forward,
    temporal_affine_backward,
    temporal_affine_forward,
)
from rnnlib.layers.attention import (
    attention_lstm_backward,
    attention_lstm_forward,
    dot_product_attention_backward,
    dot_product_attention_forward,
)
from rnnlib.layers.dropout import dropout_backward, dropout_forward
from rnnlib.layers.embedding import word_embedding_backward, word_embedding_forward
from rnnlib.layers.gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from rnnlib.layers.lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from rnnlib.layers.peephole import (
    peephole_lstm_backward,
    peephole_lstm_forward,
    peephole_lstm_step_backward,
    peephole_lstm_step_forward,
)
from rnnlib.layers.rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from rnnlib.layers.softmax import temporal_softmax_loss
from rnnlib.layers.stateful import lstm_backward_state, lstm_forward_state

__all__ = [
    "affine_backward",
    "affine_forward",
    "attention_lstm_backward",
    "attention_lstm_forward",
    "dot_product_attention_backward",
    "dot_product_attention_forward",
    "dropout_backward",
    "dropout_forward",
    "gru_backward",
    "gru_forward",
    "gru_step_backward",
    "gru_step_forward",
    "lstm_backward",
    "lstm_backward_state",
    "lstm_forward",
    "lstm_forward_state",
    "lstm_step_backward",
    "lstm_step_forward",
    "peephole_lstm_backward",
    "peephole_lstm_forward",
    "peephole_lstm_step_backward",
    "peephole_lstm_step_forward",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "temporal_affine_backward",
    "temporal_affine_forward",
    "temporal_softmax_loss",
    "word_embedding_backward",
    "word_embedding_forward",
]
