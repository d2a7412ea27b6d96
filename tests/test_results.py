"""rnnlib.results: the header every results file carries, atomic JSON, and the chapters' loader."""

import json

import numpy as np
import pytest

from rnnlib import provenance, results

RESULTS = results.RESULTS_DIR


def test_write_json_and_subsample(tmp_path):
    path = tmp_path / "sub" / "x.json"
    results.write_json(str(path), {"a": np.float32(1.5), "b": [float("nan"), np.int64(2)],
                                   "c": np.arange(3)})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [None, 2], "c": [0, 1, 2]}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]  # no temporary file left
    curve = {"step": list(range(1000)), "loss": list(range(1000))}
    sub = results.subsample_curve(curve, max_points=50)
    assert len(sub["step"]) <= 50 and sub["step"][0] == 0 and sub["step"][-1] == 999
    assert sub["step"] == sub["loss"]


def test_floats_round_trip_bit_for_bit(tmp_path):
    # A replay compares recorded losses exactly: JSON must not round them.
    losses = list(np.random.default_rng(0).standard_normal(50) * 3.7)
    results.write_json(tmp_path / "l.json", {"losses": losses})
    assert results.read_json(tmp_path / "l.json")["losses"] == losses


def test_run_header_records_provenance():
    h = results.finish_header(results.run_header("x/1", 5, command="python -m x"))
    assert h["command"] == "python -m x" and h["seed"] == 5
    assert len(h["git_rev"]) >= 7 and h["date"].startswith("20")
    assert len(h["machine"]["loadavg_start"]) == 3 and "load average" in h["machine"]["note"]


def _header(command, rev):
    h = results.finish_header(results.run_header("x/1", 0, command=command))
    h["git_rev"] = rev
    return h


def test_load_results_prints_command_and_revision(tmp_path, capsys):
    results.write_json(tmp_path / "a.json", {**_header("python -m experiments.a", "abc123"),
                                             "value": 3})
    loaded = results.load_results("a.json", folder=tmp_path)
    assert loaded["value"] == 3
    out = capsys.readouterr().out
    assert out.startswith("results/a.json: made by\n  python -m experiments.a\n"
                          "    at revision abc123, 20")


def test_load_results_names_every_part_of_a_merged_file(tmp_path, capsys):
    parts = [_header(f"python -m experiments.a --part {i}", f"rev{i}") for i in range(3)]
    results.write_json(tmp_path / "m.json", results.merged_header(parts))
    results.load_results("m.json", folder=tmp_path)
    out = capsys.readouterr().out
    assert "made by 3 runs, merged" in out
    for i in range(3):
        assert f"  python -m experiments.a --part {i}\n    at revision rev{i}, 20" in out


def test_load_results_fallback_and_missing(tmp_path, capsys):
    results.write_json(tmp_path / "small.json", _header("python -m small", "r1"))
    assert results.load_results("big.json", "small.json", folder=tmp_path) is not None
    out = capsys.readouterr().out
    assert "big.json is missing; using results/small.json" in out and "python -m small" in out
    assert results.load_results("none.json", folder=tmp_path) is None
    assert "has not been produced" in capsys.readouterr().out


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*.json")), ids=lambda p: p.name)
def test_every_committed_results_file_names_its_makers(path, capsys):
    loaded = results.load_results(path.name)
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 88  # fits a book page
    unwrapped = out.replace(" \\\n    ", " ")
    for part in loaded.get("parts") or [loaded]:
        assert part["command"] in unwrapped and part["git_rev"][:10] in out


def test_resumable_needs_a_partial_file_with_the_same_config(tmp_path):
    path = tmp_path / "p.json"
    assert results.resumable(path, {"a": 1}) is None
    results.write_json(path, {"config": {"a": (1, 2)}, "partial": True, "rows": [1]})
    assert results.resumable(path, {"a": (1, 2)})["rows"] == [1]
    assert results.resumable(path, {"a": (1, 3)}) is None
    results.write_json(path, {"config": {"a": (1, 2)}, "rows": [1]})   # finished: not partial
    assert results.resumable(path, {"a": (1, 2)}) is None



def test_code_fingerprint_names_the_imported_repository_modules(tmp_path):
    fp = provenance.code_fingerprint()
    assert "rnnlib/results.py" in fp and all(len(d) == 16 for d in fp.values())
    assert not any(p.startswith((".venv", "tests/")) for p in fp)
    assert provenance.stale_code(fp) == []
    # A changed or missing file is stale; the check reads the tree it is given.
    (tmp_path / "rnnlib").mkdir()
    (tmp_path / "rnnlib" / "results.py").write_text("# changed\n")
    assert provenance.stale_code({"rnnlib/results.py": fp["rnnlib/results.py"],
                                  "rnnlib/gone.py": "0" * 16}, root=tmp_path) == [
        "rnnlib/results.py", "rnnlib/gone.py"]


def test_finished_header_records_its_code():
    h = provenance.finish_header(results.run_header("x/1", 0, command="python -m x"))
    assert h["code"] == provenance.code_fingerprint() and "date" in h
