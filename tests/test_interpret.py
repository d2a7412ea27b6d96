"""rnnlib.interpret: the text features, the correlations and the held-out unit search."""

import numpy as np
import pytest

from rnnlib import interpret

TEXT = "ROMEO:\nNo. Go\n\nJULIET:\nAy\n"


def test_text_features_by_hand():
    f = interpret.text_features(TEXT)
    assert list(f["line_position"][:8]) == [1, 2, 3, 4, 5, 6, 0, 1]
    assert list(f["word_position"][7:12]) == [1, 2, 3, 0, 1]       # "No. G"
    assert f["speaker_name"][:7].all() and not f["speaker_name"][7:14].any()
    assert f["speaker_name"][15:23].all()                          # "JULIET:\n"
    assert f["first_line"][7:14].all() and f["first_line"][23:26].all()
    assert not f["first_line"][:7].any() and not f["first_line"][14]   # the blank line
    assert list(f["after_sentence"][9:12]) == [1, 1, 0]            # ". G": until the next letter
    assert list(np.flatnonzero(f["upper_case"]))[:6] == [0, 1, 2, 3, 4, 7]


def test_correlations_agree_with_numpy():
    rng = np.random.default_rng(0)
    acts, feature = rng.standard_normal((50, 4)), rng.standard_normal(50)
    acts[:, 2] = 7.0                                                # a unit that never changes
    r = interpret.correlations(acts, feature)
    for j in (0, 1, 3):
        assert r[j] == pytest.approx(np.corrcoef(acts[:, j], feature)[0, 1], abs=1e-12)
    assert r[2] == 0.0


def test_search_finds_a_planted_unit_and_reports_it_on_held_out_text():
    rng = np.random.default_rng(1)
    feature = np.tile(np.arange(40.0), 20)                          # (800,)
    acts = rng.standard_normal((800, 30))
    acts[:, 17] = -feature + 5 * rng.standard_normal(800)           # tracks it, sign flipped
    row = interpret.search_units(acts, {"line_position": feature}, 400)["line_position"]
    assert row["unit"] == 17 and row["r_select"] < -0.8 and row["r_heldout"] < -0.8
    assert row["median_abs_r"] < 0.1


def test_held_out_r_of_noise_is_small_even_when_the_chosen_r_is_not():
    """The best of many noise units looks correlated on the text it was chosen on; on
    the held-out half it is not (the reason for the split)."""
    rng = np.random.default_rng(2)
    acts, feature = rng.standard_normal((200, 2000)), rng.standard_normal(200)
    row = interpret.search_units(acts, {"f": feature}, 100)["f"]
    assert abs(row["r_select"]) > 0.3 and abs(row["r_heldout"]) < 0.3


def test_hidden_states_carry_the_state_across_chunks():
    from rnnlib.models import CharRNN

    model = CharRNN(7, 5, cell_type="lstm", num_layers=2, seed=0)
    ids = np.random.default_rng(3).integers(0, 7, 23)
    whole = interpret.hidden_states(model, ids, chunk=100)
    assert whole.shape == (23, 10)
    np.testing.assert_allclose(interpret.hidden_states(model, ids, chunk=4), whole, atol=1e-6)
