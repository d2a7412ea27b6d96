"""Chapters 5-8 of the book: the diagram generator and the small timing experiment.

The diagrams are committed SVGs made by book/figures/make_ch05_08.py; the timing experiment
(experiments/book_gated.py) writes results/book_gated_timing.json for chapter 6.
"""

import importlib.util
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from experiments import book_gated

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "book" / "figures"


def _generator():
    spec = importlib.util.spec_from_file_location("make_ch05_08", FIGURES / "make_ch05_08.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_diagrams_match_their_generator():
    gen = _generator()
    assert gen.FIGURES, "the generator draws no figure"
    for name, draw in gen.FIGURES.items():
        svg = draw()
        root = ET.fromstring(svg)  # well-formed XML
        assert root.tag.endswith("svg")
        assert "http" not in svg.replace("http://www.w3.org/2000/svg", ""), name  # offline
        committed = (FIGURES / name).read_text(encoding="utf-8")
        assert committed == svg, f"{name} differs from make_ch05_08.py: rerun it"


def test_every_chapter_diagram_is_generated():
    gen = _generator()
    for chapter in ["05_lstm", "06_peephole", "07_gru", "08_captioning"]:
        text = (ROOT / "book" / f"{chapter}.md").read_text(encoding="utf-8")
        for svg in set(re.findall(r"figures/([\w.-]+\.svg)", text)):
            assert svg in gen.FIGURES, f"{chapter} shows {svg}, which nothing generates"


def test_timing_batch_places_the_target_one_interval_after_the_second_pulse():
    rng = np.random.default_rng(0)
    x, y, mask, d = book_gated.timing_batch(rng, 50, 4, 14, 4)
    assert x.shape == y.shape == mask.shape == (50, 4 + 2 * 14 + 2)
    for n in range(50):
        pulses = np.flatnonzero(x[n])
        assert len(pulses) == 2 and pulses[1] - pulses[0] == d[n]
        assert np.flatnonzero(y[n]).tolist() == [pulses[1] + d[n]]
        assert mask[n].tolist() == [t > pulses[1] for t in range(x.shape[1])]


def test_solved_needs_every_scored_step_right():
    y = np.array([[0, 0, 1, 0]])
    mask = np.array([[False, True, True, True]])
    right = np.zeros((1, 4, 2))
    right[0, [0, 1, 3], 0] = 1.0
    right[0, 2, 1] = 1.0
    assert book_gated.solved(right, y, mask).tolist() == [True]
    early = right.copy()
    early[0, 1] = [0.0, 1.0]  # fires one step early
    assert book_gated.solved(early, y, mask).tolist() == [False]
    unscored = right.copy()
    unscored[0, 0] = [0.0, 1.0]  # a wrong decision before the second pulse is not scored
    assert book_gated.solved(unscored, y, mask).tolist() == [True]


def test_timing_run_smoke(tmp_path):
    out = tmp_path / "timing.json"
    result = book_gated.run_timing(str(out), log=None, max_steps=3, seeds=[0], eval_every=2,
                                   val_size=8, test_size=16, hidden_dim=4)
    saved = json.loads(out.read_text())
    assert saved["schema"] == "book_gated_timing/1" and saved["order"] == ["lstm", "peephole"]
    lstm, peep = (result["cells"][c][0] for c in ("lstm", "peephole"))
    assert lstm["steps"] == peep["steps"] == 3
    assert lstm["val_step"] == [0, 2]
    # Same seed: the peephole model starts as the plain LSTM (Wp = 0) and sees the same data.
    assert lstm["val_solved"][0] == peep["val_solved"][0]
    assert lstm["loss"][0] == pytest.approx(peep["loss"][0], rel=1e-12)
    assert len(lstm["accuracy_by_delay"]) == len(saved["delays"])
