"""Fast tests of the autograder's parts: plan, assembly/tampering, scrubbing, the outside
comparison, input shapes (folders, zips, LMS names), exports and the gradebook."""

import copy
import csv
import json
import zipfile
from pathlib import Path

import autograder_corpus as corpus
import nbformat
import pytest

from autograder.stages.assemble import assemble_cells as assemble
from autograder.stages.discover import SubmissionsError, discover, parse_flat_name
from autograder.stages.feedback import REDACTED, Scrubber, scan_text
from autograder.stages.plan import load_plans, split_hidden
from course.plugin import find_cases

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    source = corpus.write_toy_source(root)
    release = corpus.release_folder(source / "ps1", root / "release" / "ps1")
    return source, release, load_plans(source)


def test_plan_of_the_toy_course(toy):
    _, _, plans = toy
    part1 = plans["ps1"]["part1"]
    assert [(q.grade_id, q.points, q.kind) for q in part1.questions] == [
        ("test_squares", 1.5, "auto"), ("test_calls_square", 0.5, "auto"),
        ("test_partial", 2.0, "auto"), ("test_load", 1.0, "auto"), ("explain", 1.0, "manual")]
    assert [(q.grade_id, q.kind) for q in plans["ps1"]["part2"].questions] == [
        ("test_mean", "auto"), ("task_plot", "manual")]
    assert part1.release["test_squares"].strip() == (
        'assert squares(1) == [1], "squares(1) should be [1]"')
    assert part1.release["test_partial"].strip() == ""
    assert 'assert squares(3) == [1, 4, 9], "hidden: squares(3) is wrong"' in part1.secrets
    assert part1.hidden_ranges["test_squares"] == {2, 3, 4, 5}


def test_split_hidden_and_cases():
    src = ("x = 1\n### BEGIN HIDDEN TESTS\n_c = case(\"rnn_step_forward\", seed=3, N=1, D=4, H=5)\n"
           "_h, _ = rnn_step_forward(_c['x'], _c['prev_h'], _c['Wx'], _c['Wh'], _c['b'])\n"
           "submit(_c, next_h=_h)\n### END HIDDEN TESTS\nassert x")
    visible, hidden = split_hidden(src)
    assert visible == "x = 1\nassert x" and hidden == {2, 3, 4, 5, 6}
    cases, keys = find_cases(src)
    assert cases == [("rnn_step_forward", 3, {"N": 1, "D": 4, "H": 5})]
    assert keys == {"next_h"}
    with pytest.raises(ValueError):
        find_cases("case('x', seed=n)")


def test_assemble_restores_tests_and_records_it(toy):
    source, release, plans = toy
    plan = plans["ps1"]["part1"]
    src_nb = nbformat.read(str(source / "ps1" / "part1.ipynb"), as_version=4)
    rel_nb = nbformat.read(str(release / "part1.ipynb"), as_version=4)
    full = corpus.fill(rel_nb, src_nb)
    cells, restored = assemble(plan, full)
    assert restored == {}
    tests = [c for c in cells if c["kind"] == "test"]
    assert [c["grade_id"] for c in tests] == [q.grade_id for q in plan.questions[:4]]
    assert "BEGIN HIDDEN TESTS" in tests[0]["source"]  # the instructors' version runs

    edited = copy.deepcopy(full)
    for cell in edited.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_squares":
            cell.source = "pass"
    edited.cells = [c for c in edited.cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") != "test_load"]
    cells, restored = assemble(plan, edited)
    assert restored == {"test_squares": "edited", "test_load": "deleted"}
    ids = [c["grade_id"] for c in cells]
    assert ids.index("test_load") == ids.index("load") + 1  # put back where it was
    assert assemble(plan, src_nb)[1] == {}  # the source itself is not a change


def test_scrubber_and_scan():
    secret = 'assert squares(3) == [1, 4, 9], "hidden: squares(3) is wrong"'
    scrub = Scrubber([" ".join(secret.split())])
    text = f"fine\n    {secret}\nalso fine\n"
    assert scrub.text(text) == f"fine\n{REDACTED}\nalso fine\n"
    assert scrub.text("nothing here\n") == "nothing here\n"
    escaped = secret.replace('"', "&quot;")
    assert scan_text(f"<pre>{escaped}</pre>", scrub.secrets)
    assert scan_text(json.dumps({"out": secret}), scrub.secrets)
    assert not scan_text("assert squares(1) == [1]", scrub.secrets)


def test_outside_comparison_against_rnnlib():
    refs = pytest.importorskip("course.references")
    if "rnn_step_forward" not in refs.names():
        pytest.skip("no rnn_step_forward reference yet")
    from course.plugin import Cases, check_cases, expected
    from rnntools import grading
    from rnntools.grading import MIME_TYPE as SUBMISSION_MIME

    q = Cases((("rnn_step_forward", 4, {"N": 2, "D": 3, "H": 4}),), frozenset({"next_h"}))
    ref = expected("rnn_step_forward", 4, (("D", 3), ("H", 4), ("N", 2)))["next_h"]

    def shown(value, **change):
        payload = {"name": "rnn_step_forward", "seed": 4, "dims": {"N": 2, "D": 3, "H": 4},
                   "outputs": {"next_h": grading._encode(value)}}
        payload.update(change)
        return [{"output_type": "display_data", "data": {SUBMISSION_MIME: payload}}]

    assert check_cases(q, shown(ref)) == (True, "")
    assert not check_cases(q, shown(ref * (1 + 1e-4)))[0]
    assert not check_cases(q, shown(ref.T.copy()))[0]
    assert not check_cases(q, shown(ref, seed=5))[0]
    assert not check_cases(q, [])[0]
    bad = shown(ref)
    bad[0]["data"][SUBMISSION_MIME]["outputs"]["next_h"]["dtype"] = "|O"
    assert not check_cases(q, bad)[0]


def test_flat_names():
    plans = {"ps1": {"part1": None, "part2": None}, "02_rnn": {"rnn": None}}
    assert parse_flat_name("Zoë Brontë_ps1_part1.ipynb", plans) == ("Zoë Brontë", "ps1", "part1")
    assert parse_flat_name("smithjohn_late_12345_67890_part2-1.ipynb", plans) == (
        "smithjohn", "ps1", "part2")
    assert parse_flat_name("ana_02_rnn_rnn.ipynb", plans) == ("ana", "02_rnn", "rnn")
    assert parse_flat_name("notes.ipynb", plans) is None


def test_inputs_folder_zip_and_lms(toy, tmp_path):
    _, _, plans = toy
    nb = nbformat.v4.new_notebook()
    layout = tmp_path / "wrap" / "submitted"
    (layout / "Zoë Brontë" / "ps1").mkdir(parents=True)
    nbformat.write(nb, str(layout / "Zoë Brontë" / "ps1" / "part1.ipynb"))
    (layout / "Zoë Brontë" / "ps1" / "data.txt").write_text("1")
    (layout / "bob").mkdir()
    zpath = tmp_path / "class.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in (tmp_path / "wrap").rglob("*"):
            z.write(p, p.relative_to(tmp_path / "wrap"))
    for src in (layout, zpath):
        stage = tmp_path / f"stage-{src.name}"
        stage.mkdir()
        found = discover(src, plans, stage)
        students, table = found.students, found.table
        assert students == ["Zoë Brontë", "bob"] and found.unmatched == [] == found.rejected
        path, folder, skipped = table[("Zoë Brontë", "ps1", "part1")]
        assert Path(path).is_file() and (Path(folder) / "data.txt").is_file() and not skipped
        assert table[("Zoë Brontë", "ps1", "part2")][0] is None
        assert table[("bob", "ps1", "part1")] == (None, None, [])

    lms = tmp_path / "lms.zip"
    with zipfile.ZipFile(lms, "w") as z:
        z.writestr("doe_jane_12345_67890_part1.ipynb", nbformat.writes(nb))
        z.writestr("Zoë Brontë_ps1_part2.ipynb", nbformat.writes(nb))
        z.writestr("readme.ipynb", "{}")
    stage = tmp_path / "stage-lms"
    stage.mkdir()
    found = discover(lms, plans, stage)
    assert found.students == ["Zoë Brontë", "doe_jane"] and found.unmatched == ["readme.ipynb"]
    assert found.table[("doe_jane", "ps1", "part1")][0] is not None
    assert found.table[("doe_jane", "ps1", "part2")] == (None, None, [])

    # Bad entries are refused one by one, named for their student; the rest is graded.
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../escape.ipynb", "{}")
        z.writestr("/abs/olute.ipynb", "{}")
        link = zipfile.ZipInfo("class/eve/ps1/part2.ipynb")
        link.external_attr = (0o120777 << 16)
        z.writestr(link, "/etc/shadow")
        z.writestr("class/eve/ps1/part1.ipynb", nbformat.writes(nb))
        z.writestr("class/eve/../../../tmp/x.ipynb", "{}")
    stage = tmp_path / "stage-evil"
    stage.mkdir()
    found = discover(evil, plans, stage)
    assert found.students == ["eve"]
    path, _, skipped = found.table[("eve", "ps1", "part1")]
    assert Path(path).is_file()
    assert ("part2.ipynb".join(["eve/ps1/", ""]), "symbolic link") in skipped
    assert found.table[("eve", "ps1", "part2")][0] is None
    assert sorted(r for _, r in found.rejected) == ["unsafe path"] * 3
    assert not (tmp_path / "escape.ipynb").exists() and not Path("/tmp/x.ipynb").exists()
    with pytest.raises(SubmissionsError):
        discover(tmp_path / "nothing.zip", plans, stage)


def test_exports_and_gradebook(toy, tmp_path):
    source, _, plans = toy
    from autograder.stages.export import convert as export
    from autograder.stages.export import gradescope, write_csv

    rows = []
    for s in ("Zoë Brontë", "bob"):
        for nb, plan in plans["ps1"].items():
            for q in plan.questions:
                manual = q.kind == "manual"
                rows.append({"student": s, "assignment": "ps1", "notebook": nb,
                             "question": q.grade_id, "score": "" if manual else q.points / 2,
                             "max_score": q.points, "status": "manual" if manual else "failed"})
    out = tmp_path / "out"
    write_csv(out / "grades.csv", rows)
    assert gradescope(rows)["score"] == pytest.approx(2 * (1.5 + 0.5 + 2 + 1 + 1.25) / 2)
    # One results.json per student and assignment (Gradescope grades one assignment at a
    # time), one test per automatic question; tests with hidden lines after_published.
    other = [dict(r, assignment="ps0", score=0.0) for r in rows if r["status"] != "manual"]
    write_csv(out / "grades.csv", rows + other)
    export(out, "gradescope", None, str(source))
    gs = json.loads((out / "gradescope" / "ps1" / "Zoë Brontë" / "results.json").read_text())
    assert gs["score"] == pytest.approx((1.5 + 0.5 + 2 + 1 + 1.25) / 2)
    assert {t["name"] for t in gs["tests"]} == {f"{r['notebook']}: {r['question']}"
                                                for r in rows if r["status"] != "manual"}
    assert {t["name"]: t["visibility"] for t in gs["tests"]}["part1: test_squares"] == (
        "after_published")
    assert {t["name"]: t["visibility"] for t in gs["tests"]}["part1: test_calls_square"] == (
        "visible")
    ps0 = json.loads((out / "gradescope" / "ps0" / "bob" / "results.json").read_text())
    assert ps0["score"] == 0 and len(ps0["tests"]) == len(other) // 2
    write_csv(out / "grades.csv", rows)
    export(out, "csv", None)
    with open(out / "grades_wide.csv", encoding="utf-8") as f:
        wide = list(csv.DictReader(f))
    assert [w["student"] for w in wide] == ["Zoë Brontë", "bob"]
    assert float(wide[0]["max_total"]) == 6.25

    from nbgrader.api import Gradebook

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    export(out, "nbgrader", url, str(source))
    export(out, "nbgrader", url, str(source))  # twice: updates, no duplicates
    with Gradebook(url) as gb:
        assert sorted(s.id for s in gb.students) == ["Zoë Brontë", "bob"]
        g = gb.find_grade("test_squares", "part1", "ps1", "bob")
        assert g.auto_score == 0.75 and g.max_score == 1.5
        manual = gb.find_grade("explain", "part1", "ps1", "bob")
        assert manual.auto_score is None and manual.needs_manual_grade


def test_a_killed_writes_temporaries_are_removed(tmp_path, monkeypatch):
    """atomic_write leaves `.<name>.<random>.tmp` when SIGKILL interrupts it; the next run
    removes those and nothing else (the resume test in test_autograder_corpus hit one)."""
    import os

    from autograder import io

    page = tmp_path / "feedback" / "ann" / "ps1" / "p.html"
    io.atomic_write(page, "old")

    def killed(fd, _):  # the write dies before os.replace, as under SIGKILL
        raise SystemExit

    monkeypatch.setattr(os, "replace", killed)
    monkeypatch.setattr(Path, "unlink", lambda *a, **k: None)  # SIGKILL runs no clean-up
    with pytest.raises(SystemExit):
        io.atomic_write(page, "new")
    monkeypatch.undo()
    left = list(page.parent.glob(".p.html.*.tmp"))
    assert len(left) == 1
    keep = tmp_path / "feedback" / "notes.tmp"  # not a temporary of atomic_write
    keep.write_text("x")
    assert io.remove_stale_temporaries(tmp_path) == left
    assert not left[0].exists() and keep.exists() and page.read_text() == "old"


def test_only_the_assignments_set_are_graded():
    """Issue 14, defaults: an assignment nobody submitted and the configuration does not name
    is not graded (no 'missing' zeros for it); one the configuration names is."""
    from types import SimpleNamespace

    from autograder.pipeline import _only_assignments_set

    plan = SimpleNamespace(secrets=["s"])
    table = {("ann", "ps1", "p"): ("ann/ps1/p.ipynb", "ann/ps1", []),
             ("ann", "ps2", "p"): (None, None, []), ("ann", "ps3", "p"): (None, None, [])}
    run = SimpleNamespace(plans={a: {"p": plan} for a in ("ps1", "ps2", "ps3")},
                          found=SimpleNamespace(table=dict(table)),
                          settings=SimpleNamespace(named_assignments=lambda: ["ps3"]))
    _only_assignments_set(run)
    assert sorted(run.plans) == ["ps1", "ps3"]
    assert sorted(k[1] for k in run.found.table) == ["ps1", "ps3"]


def test_help_states_each_default_once_with_its_unit():
    import subprocess
    import sys

    text = subprocess.run([sys.executable, "-m", "autograder", "grade", "--help"],
                          capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1]).stdout
    flat = " ".join(text.split())
    assert "(default: None)" not in flat and "(default: False)" not in flat
    for option, words in (("--timeout", "seconds per cell (default: 30.0)"),
                          ("--memory", "MB per student kernel (default: 2048)"),
                          ("--workers", "on this machine (default: 2)")):
        assert words in flat, (option, flat)


def test_autograded_notebook_drops_only_the_outputs_nbformat_refuses():
    """The cells of autograded/ are built without a schema check each: the one check of the
    whole notebook must still catch a bad output (a stream without its name) and drop the
    outputs of that cell only."""
    from types import SimpleNamespace

    from autograder.stages.course import _node_notebook, _notebook_cell, _valid

    run = SimpleNamespace(plan=SimpleNamespace(answers={}), verdicts={}, restored={})
    good = {"output_type": "stream", "name": "stdout", "text": "fine\n"}
    bad = {"output_type": "stream", "text": "no name\n"}
    cells = [_notebook_cell({"grade_id": None, "kind": "student", "cell_type": "code",
                             "source": f"print({i})", "outputs": [out]}, {}, run)
             for i, out in enumerate([good, bad])]
    cells.append(_notebook_cell({"grade_id": None, "kind": "markdown",
                                 "cell_type": "markdown", "source": "*text*"}, {}, run))
    nb = _valid(_node_notebook(cells, {}))
    nbformat.validate(nb)
    assert [c.get("outputs") for c in nb.cells] == [[good], [], None]
    assert len({c.id for c in nb.cells}) == 3


def _spare_of(job):
    return job["spare"]


def test_the_last_job_starts_no_spare_sandbox():
    """A pool worker starts the next notebook's sandbox while grading one; after the last
    job there is no next notebook, so none is started for it."""
    from autograder.stages.dispatch import _run_local

    got = {}
    jobs = [{"key": i} for i in range(5)]
    _run_local(2, jobs, lambda job, spare: got.update({job["key"]: spare}), _spare_of)
    assert got == {0: True, 1: True, 2: True, 3: True, 4: False}
    assert all("spare" not in job for job in jobs)  # the caller's jobs are not changed
