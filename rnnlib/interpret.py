"""Hidden units that track named features of a text (Karpathy, Johnson & Fei-Fei, 2015).

A trained character model reads a stretch of text; every hidden unit gives one activation per
character. This module describes the text by a few features a reader can name (how far into
the line, inside a speaker's name, just after the end of a sentence, ...) and finds, for each
feature, the unit whose activation correlates most with it.

Searching a thousand units for the best of several features finds a sizeable correlation even
in a network that learned nothing, so the search is honest in two ways: the unit is chosen on
one half of the text and its correlation is reported on the other half, and the same search is
run on the untrained network (the same architecture at its initial weights) for comparison.
"""

import numpy as np

SENTENCE_END = ".?!"

# name -> what the feature is, in words (for tables and captions).
FEATURES = {
    "line_position": "characters since the last newline",
    "word_position": "characters since the last space or newline",
    "speaker_name": "inside a speaker's name (a line such as 'ROMEO:')",
    "first_line": "on the first line of a speech (just after the speaker's name)",
    "after_sentence": "the last mark read ends a sentence (. ? !)",
    "upper_case": "the character read is an upper-case letter",
}


def _lines(text):
    """(start, stop) of every line of text, the newline ending it included."""
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    stops = starts[1:] + [len(text)]
    return [(a, b) for a, b in zip(starts, stops, strict=True) if a < b]


def _is_name_line(line):
    name = line.rstrip("\n")
    return len(name) > 1 and name.endswith(":") and name[:-1].replace(" ", "").isupper()


def text_features(text):
    """Each feature of FEATURES at every position of a text.

    Inputs:
    - text: str of length T.

    Returns {name: float array of shape (T,)}; entry t describes the text read up to and
    including character t (what the hidden state after reading character t could know).
    """
    T = len(text)
    feats = {name: np.zeros(T) for name in FEATURES}
    line_pos = word_pos = 0
    last_mark = ""
    for t, ch in enumerate(text):
        line_pos = 0 if ch == "\n" else line_pos + 1
        word_pos = 0 if ch in " \n" else word_pos + 1
        if not ch.isspace():
            last_mark = ch
        feats["line_position"][t] = line_pos
        feats["word_position"][t] = word_pos
        feats["after_sentence"][t] = last_mark in SENTENCE_END
        feats["upper_case"][t] = ch.isupper()
    previous_was_name = False
    for a, b in _lines(text):
        name = _is_name_line(text[a:b])
        feats["speaker_name"][a:b] = name
        feats["first_line"][a:b] = previous_was_name and not name
        previous_was_name = name
    return feats


def correlations(acts, feature):
    """Pearson correlation of every unit with one feature.

    Inputs:
    - acts: array of shape (T, U), the activation of U units at T positions.
    - feature: array of shape (T,).

    Returns an array of shape (U,); 0 for a unit (or feature) that never changes.
    """
    a = acts - acts.mean(axis=0)
    f = feature - feature.mean()
    denom = np.sqrt((a * a).sum(axis=0) * (f * f).sum())
    num = f @ a
    return np.divide(num, denom, out=np.zeros_like(num, dtype=np.float64), where=denom > 0)


def search_units(acts, features, split):
    """For each feature, the unit chosen on the first `split` positions and its held-out r.

    Inputs:
    - acts: array of shape (T, U), unit activations over a text.
    - features: {name: array of shape (T,)}, e.g. from text_features.
    - split: int, positions [0, split) choose the unit; [split, T) report on it.

    Returns {name: {"unit": index into U, "r_select": r on the first part, "r_heldout": r on
    the second part (sign as chosen), "median_abs_r": median |r| over all units on the second
    part}}.
    """
    found = {}
    for name, feature in features.items():
        chosen = correlations(acts[:split], feature[:split])
        unit = int(np.argmax(np.abs(chosen)))
        held = correlations(acts[split:], feature[split:])
        found[name] = {"unit": unit, "r_select": float(chosen[unit]),
                       "r_heldout": float(held[unit]),
                       "median_abs_r": float(np.median(np.abs(held)))}
    return found


def hidden_states(model, ids, chunk=2000):
    """Every layer's hidden state at every position of one long sequence, layers side by side.

    Inputs:
    - model: a CharRNN (any cell type, any number of layers).
    - ids: integer array of shape (T,), character ids, read in chunks of `chunk`, the state
      carried from chunk to chunk.

    Returns an array of shape (T, L * H): column l * H + j is unit j of layer l + 1.
    """
    state, parts = None, []
    for start in range(0, len(ids), chunk):
        _, state, hidden = model.forward(ids[None, start:start + chunk], h0=state,
                                         return_hidden=True)
        parts.append(np.concatenate([h[0] for h in hidden], axis=1))
    return np.concatenate(parts, axis=0)
