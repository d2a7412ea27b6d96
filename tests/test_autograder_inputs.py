"""The discover stage on real input formats, without grading (fast): Gradescope's export,
Canvas's and Moodle's downloads, nbgrader's layout and zip_collect names, the roster, and
notebook names that tolerate case and copy suffixes. Fixtures: `autograder_corpus.lms`."""

import os
import time
import zipfile

import nbformat
import pytest
from autograder_corpus import lms

from autograder.stages.discover import discover
from autograder.stages.inputs.names import notebook_of

PLANS = {"ps1": {"part1": None, "part2": None}, "ps2": {"rnn": None}}
NB = nbformat.v4.new_notebook()
OLD, NEW = time.time() - 3600, time.time() - 60


@pytest.fixture
def stage(tmp_path):
    counter = iter(range(1000))

    def make():
        path = tmp_path / f"stage{next(counter)}"
        path.mkdir()
        return path
    return make


def test_notebook_names_tolerate_case_and_copies():
    names = ["rnn", "part", "part-2"]
    for stem in ("rnn", "RNN", "rnn (1)", "Rnn (12)", "rnn-Copy1", "rnn-copy", "rnn copy",
                 "rnn copy 2", "rnn-1", "rnn-Copy1 (1)", "rnn_copy"):
        assert notebook_of(stem, names) == "rnn", stem
    assert notebook_of("part-2", names) == "part-2"  # a notebook of its own, not a copy
    assert notebook_of("part (3)", names) == "part"
    for stem in ("rnnx", "my rnn", "notes", "rnn-final"):
        assert notebook_of(stem, names) is None, stem


def test_nbgrader_layout_newest_copy_wins_and_timestamp(tmp_path, stage):
    folder = tmp_path / "subs" / "ann" / "ps1"
    lms._write(folder / "PART1.ipynb", NB, OLD)
    lms._write(folder / "part1 (1).ipynb", NB, NEW)
    lms._write(folder / "Part2-Copy1.ipynb", NB)
    (folder / "timestamp.txt").write_text("2024-03-01 10:15:00.000000 UTC\n")
    found = discover(tmp_path / "subs", PLANS, stage())
    path, where, _ = found.table[("ann", "ps1", "part1")]
    assert path == str(folder / "part1 (1).ipynb") and where == str(folder)
    d = found.details[("ann", "ps1", "part1")]
    assert d.notes == ["part1 (1).ipynb graded as part1.ipynb, the newest of PART1.ipynb, "
                       "part1 (1).ipynb"]
    assert d.timestamp == "2024-03-01T10:15:00" and d.source == "nbgrader"
    assert found.details[("ann", "ps1", "part2")].notes == ["Part2-Copy1.ipynb graded as "
                                                           "part2.ipynb"]
    assert found.table[("ann", "ps2", "rnn")] == (None, None, [])
    assert found.present == ["ps1"]


def test_gradescope_export_credits_every_submitter(tmp_path, stage):
    top = lms.gradescope_export(tmp_path / "dl", [
        ([("Ann Lee", "1001", "ann@uni.edu"), ("Bo Chen", "1002", "bo@uni.edu")],
         "2024-03-01 09:58:05.746365000 Z", {"part1.ipynb": NB, "data.txt": "1 2"}),
        ([("Cy Dee", "1003", "cy@uni.edu")], "2024-03-02 23:10:00.000000000 Z",
         {"hw/RNN.ipynb": (NB, OLD), "hw/rnn (1).ipynb": (NB, NEW)}),
        ([("No Sid", "", "nosid@uni.edu")], "2024-03-01 08:00:00.000000000 Z",
         {"part2.ipynb": NB}),
        ([("Evil", "../../x", "")], "2024-03-01 08:00:00.000000000 Z", {"part2.ipynb": NB}),
    ])
    zpath = tmp_path / "export.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in top.rglob("*"):
            z.write(p, p.relative_to(tmp_path / "dl"))
    for src in (tmp_path / "dl", zpath):
        found = discover(src, PLANS, stage())
        assert found.students == [".._.._x", "1001", "1002", "1003", "nosid@uni.edu"]
        assert found.names["1002"] == "Bo Chen"
        for sid in ("1001", "1002"):
            path, folder, _ = found.table[(sid, "ps1", "part1")]
            assert path.endswith("submission_1001/part1.ipynb")
            assert os.path.isfile(os.path.join(folder, "data.txt"))
            assert found.details[(sid, "ps1", "part1")].timestamp == "2024-03-01T09:58:05.746365"
        path, folder, _ = found.table[("1003", "ps2", "rnn")]
        assert path.endswith("hw/rnn (1).ipynb") and folder.endswith("hw")
        assert "newest of hw/RNN.ipynb, hw/rnn (1).ipynb" in found.details[
            ("1003", "ps2", "rnn")].notes[0]
        assert found.table[("nosid@uni.edu", "ps1", "part2")][0]


def test_canvas_ids_are_keys_late_and_data_files(tmp_path, stage):
    z = lms.canvas_zip(tmp_path / "canvas.zip", [
        ("smithjane", 1001, False, 501, "part1.ipynb", NB),
        ("smithjane", 1002, True, 502, "part1.ipynb", NB),
        ("smithjane", 1002, True, 503, "data.txt", "1 2 3"),
        ("smithjane", 1002, True, 504, "part1-1.ipynb", NB),
        ("o_brien", 1003, False, 505, "Part2.ipynb", NB),
        ("", "anon_x7k2p", False, 506, "part2.ipynb", NB),
    ])
    found = discover(z, PLANS, stage())
    assert found.students == ["1001", "1002", "1003", "anon_x7k2p"]
    assert found.names["1001"] == found.names["1002"] == "smithjane"
    assert found.details[("1002", "ps1", "part1")].late is True
    assert found.details[("1001", "ps1", "part1")].late is None
    path, folder, _ = found.table[("1002", "ps1", "part1")]
    assert path.endswith("part1-1.ipynb") and os.path.isfile(os.path.join(folder, "data.txt"))
    note = found.details[("1002", "ps1", "part1")].notes[0]
    assert "newest of part1-1.ipynb, part1.ipynb" in note
    assert found.table[("1003", "ps1", "part2")][0] and found.names["1003"] == "o_brien"


def test_moodle_participants(tmp_path, stage):
    z = lms.moodle_zip(tmp_path / "moodle.zip", [
        ("Ann Lee", 7001, {"part1.ipynb": NB, "part2.ipynb": NB}),
        ("Ann Lee", 7002, {"PART1.ipynb": NB}),
        ("Zoë Brontë", 7003, {"sub/part2.ipynb": NB, "sub/data.txt": "x"}),
    ])
    with zipfile.ZipFile(z, "a") as zf:
        zf.writestr("Ann Lee_7001_assignsubmission_onlinetext_/onlinetext.html", "<p>hi</p>")
    found = discover(z, PLANS, stage())
    assert found.students == ["7001", "7002", "7003"]
    assert found.names["7003"] == "Zoë Brontë"
    assert found.table[("7002", "ps1", "part1")][0].endswith("PART1.ipynb")
    assert found.table[("7003", "ps1", "part2")][1].endswith("sub")
    assert found.unmatched == []


def test_zipcollect_names_from_the_course_config(tmp_path, stage):
    lms.zipcollect_folder(tmp_path / "downloaded", "ps1", [
        ("hacker", "2016-01-30-20-30-10", "part1", NB),
        ("bitdiddle", "2016-01-30-15-30-10", "part1", NB),
        ("bitdiddle", "2016-01-31-09-05-07", "part1", NB),
        ("bitdiddle", "2016-01-30-15-30-10", "part2", NB)])
    config = {"FileNameCollectorPlugin": {"named_regexp": lms.ZIPCOLLECT_REGEXP}}
    found = discover(tmp_path / "downloaded", PLANS, stage(), config=config)
    assert found.students == ["bitdiddle", "hacker"]
    path, _, _ = found.table[("bitdiddle", "ps1", "part1")]
    assert "2016-01-31-09-05-07" in path  # the newer attempt
    assert found.details[("bitdiddle", "ps1", "part1")].timestamp == "2016-01-31T09:05:07"
    assert "newest of" in found.details[("bitdiddle", "ps1", "part1")].notes[0]
    assert found.table[("hacker", "ps1", "part2")][0] is None
    # Without the regexp the names fall to the generic flat rule: no student id is read.
    assert "hacker" not in discover(tmp_path / "downloaded", PLANS, stage()).students


def test_roster_lists_the_absent_and_maps_emails(tmp_path, stage):
    top = lms.gradescope_export(tmp_path / "dl", [
        ([("Ann Lee", "1001", "ann@uni.edu")], "2024-03-01 09:58:05 Z", {"part1.ipynb": NB}),
        ([("Bo Chen", "", "Bo@Uni.edu")], "2024-03-01 09:58:05 Z", {"part1.ipynb": NB}),
        ([("Walk In", "9999", "")], "2024-03-01 09:58:05 Z", {"part1.ipynb": NB})])
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,Email\nPoints Possible,,,\n"
                      "\"Lee, Ann\",1001,s1,ann@uni.edu\n\"Chen, Bo\",1002,s2,bo@uni.edu\n"
                      "\"Absent, Al\",1003,s3,al@uni.edu\n")
    found = discover(top, PLANS, stage(), roster)
    assert found.students == ["1001", "1002", "1003", "9999"]
    assert found.table[("1002", "ps1", "part1")][0]  # Bo's email -> the roster's id
    assert found.table[("1003", "ps1", "part1")] == (None, None, [])
    assert found.names["1003"] == "Absent, Al"
    assert found.unknown == ["9999"]
    assert found.details[("9999", "ps1", "part1")].notes == ["not on the roster"]


def test_one_download_per_assignment(tmp_path, stage):
    subs = tmp_path / "class"
    subs.mkdir()
    lms.canvas_zip(subs / "ps1.zip", [("lee", 1001, False, 1, "part1.ipynb", NB)])
    lms.gradescope_export(subs / "ps2", [([("Ann Lee", "1001", "")], "2024-03-01 09:58:05 Z",
                                          {"part1.ipynb": NB})])
    # ps2's notebook is named like ps1's: within its own download, it is ps2's or nobody's.
    found = discover(subs, PLANS, stage())
    assert found.students == ["1001"]
    assert found.table[("1001", "ps1", "part1")][0]
    assert found.table[("1001", "ps2", "rnn")][0] is None
    assert found.unmatched == ["submission_1001/part1.ipynb"]


def test_payload_carries_the_files_and_hashes_the_content(tmp_path):
    from autograder.stages.payload import content_hash, pack, unpacked

    folder = tmp_path / "ann" / "ps1"
    lms._write(folder / "part1.ipynb", NB)
    (folder / "data.txt").write_text("1 2 3")
    (folder / "sub").mkdir()
    (folder / "sub" / "more.txt").write_text("x")
    (folder / "link").symlink_to("/etc/passwd")
    job = {"path": str(folder / "part1.ipynb"), "dir": str(folder), "skipped": []}
    packed = pack(job)
    assert packed["path"] is None and packed["dir"] is None
    assert ("link", "symbolic link") in packed["skipped"]
    with unpacked(packed) as local:
        assert open(local["path"]).read() == nbformat.writes(NB)
        assert sorted(os.listdir(local["dir"])) == ["data.txt", "part1.ipynb", "sub"]
        assert open(os.path.join(local["dir"], "sub", "more.txt")).read() == "x"
        where = local["dir"]
    assert not os.path.exists(where)  # removed after grading
    before = content_hash(job)
    assert content_hash(job) == before
    (folder / "data.txt").write_text("1 2 4")
    assert content_hash(job) != before  # a supporting file changed
    changed = content_hash(job)
    lms._write(folder / "part1.ipynb", nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1")]))
    assert content_hash(job) != changed  # the notebook changed
    assert content_hash({"path": None, "dir": None, "skipped": []}) != before
