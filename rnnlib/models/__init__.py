"""Models built from rnnlib.layers: ``CaptioningRNN`` (image captioning, CS231n interface) and
``CharRNN`` (character language model with truncated BPTT)."""

from rnnlib.models.captioning import CaptioningRNN, decode_captions
from rnnlib.models.charrnn import CharRNN

__all__ = ["CaptioningRNN", "CharRNN", "decode_captions"]
