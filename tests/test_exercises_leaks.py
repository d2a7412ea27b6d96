"""No leak: nothing a student receives holds a graded function's body, a hidden test, or
nbgrader's solution/hidden-test markers."""

import pytest
from _exercises_util import (
    EXERCISES,
    MARKERS,
    build,
    graded_function_names,
    hidden_lines,
    nbgrader_meta,
    read,
    solution_notebooks,
    source,
)

# Body lines shorter than this are generic (`return dW`, `dx = da @ Wx.T`); the longer ones
# are specific enough that finding one in the release means the solution leaked.
MIN_LINE = 16
# Input validation is not graded: students get these helpers in rnntools.checks, whose
# docstrings show calls such as `N, T, D = dims("x", x, "(N, T, D)")`.
VALIDATION = ("dims(", "expect(", "expect_int(")


def student_texts(root=EXERCISES):
    """(path, text) of every file under root: cell sources and outputs of notebooks."""
    texts = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or ".egg-info" in str(path):
            continue
        if path.suffix == ".ipynb":
            nb = read(path)
            parts = []
            for cell in nb.cells:
                parts.append(cell.source)
                for output in cell.get("outputs", []):
                    parts.append(str(output))
            texts.append((path, "\n".join(parts)))
        else:
            texts.append((path, path.read_text(errors="replace")))
    return texts


def shown_lines():
    """Lines the instructors' notebooks show students on purpose: every line of their cells
    that are neither solution cells nor hidden tests (e.g. `h, _ = rnn_forward(x, h0, Wx, Wh, b)`
    in a visible test is not a leak even if a graded body has the same line)."""
    lines = set()
    for path in solution_notebooks():
        for cell in read(path).cells:
            if nbgrader_meta(cell).get("solution"):
                continue
            inside = False
            for line in cell.source.split("\n"):
                if "BEGIN HIDDEN TESTS" in line:
                    inside = True
                elif "END HIDDEN TESTS" in line:
                    inside = False
                elif not inside:
                    lines.add(line.strip())
    return lines


SHOWN = shown_lines()


def body_lines(name):
    _, body = source.split_function(source.find_function(name))
    lines = {line.strip() for line in body} - SHOWN
    return sorted(line for line in lines
                  if len(line) >= MIN_LINE and not any(v in line for v in VALIDATION))


def graded_names():
    return sorted({name for path in solution_notebooks() for name in
                   graded_function_names(read(path))})


@pytest.fixture(scope="module")
def texts():
    return student_texts()


def test_there_is_something_to_scan(texts):
    assert any(path.suffix == ".ipynb" for path, _ in texts)
    assert any(path.parent.name == "grading" and path.name == "cases.py" for path, _ in texts)
    assert graded_names()


def body_block(name):
    """The body's code lines (no comments, blank lines or input checks), stripped and joined:
    catches a short body such as `out = W[x]; cache = (x, W); return out, cache` whose lines
    are each too generic to look for alone."""
    _, body = source.split_function(source.find_function(name))
    lines = [line.strip() for line in body]
    return "\n".join(line for line in lines if line and not line.startswith("#")
                     and not any(v in line for v in VALIDATION))


def stripped(text):
    return "\n".join(line.strip() for line in text.split("\n") if line.strip()
                     and not line.strip().startswith("#"))


@pytest.mark.parametrize("name", graded_names())
def test_no_graded_body_in_the_release(texts, name):
    lines, block = body_lines(name), body_block(name)
    assert block, f"{name} has no body to look for"
    for path, text in texts:
        leaked = [line for line in lines if line in text]
        assert not leaked, f"{path} holds the body of {name}: {leaked[:3]}"
        assert block not in stripped(text), f"{path} holds the body of {name}"


def test_no_hidden_test_or_marker_in_the_release(texts):
    # A hidden line that the notebooks also show (the import of the grading hooks) is no secret.
    hidden = sorted({line for path in solution_notebooks() for line in hidden_lines(read(path))}
                    - SHOWN)
    assert hidden
    for path, text in texts:
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{path} holds hidden test lines: {leaked[:3]}"
        markers = [m for m in MARKERS if m in text]
        assert not markers, f"{path} holds nbgrader markers {markers}"


def test_the_scan_finds_a_planted_short_body(tmp_path):
    # The real body, re-indented and with a comment between its lines, as a student
    # notebook would hold it.
    block = body_block("word_embedding_forward")
    planted = "\n\n    # paste\n".join("    " + line for line in block.split("\n"))
    assert block and block in stripped(f"def f(x, W):\n{planted}\n")
    assert block not in stripped(f"def f(x, W):\n{planted.replace('return', 'print')}\n")


def test_the_scan_finds_a_planted_leak(tmp_path):
    import nbformat

    name = graded_names()[0]
    line = body_lines(name)[-1]
    released = sorted(EXERCISES.glob("[0-9]*/*.ipynb"))[0]
    nb = read(released)
    nb.cells[-1].source += f"\n    {line}\n"
    nbformat.write(nb, tmp_path / released.name)
    assert [p for p, text in student_texts(tmp_path) if line in text] == [tmp_path / released.name]


def generated_notes(root):
    """Files under root that carry the "generated, do not edit" note of the solutions (in a
    notebook's metadata or anywhere in a file's text)."""
    return [path for path in sorted(root.rglob("*")) if path.is_file()
            and build.NOTE_KEY in path.read_text(errors="replace")]


def test_no_generated_note_in_the_release():
    assert all(build.NOTE_KEY in read(path).metadata for path in solution_notebooks())
    assert generated_notes(EXERCISES) == []


def test_the_note_scan_finds_a_planted_note(tmp_path):
    planted = tmp_path / "rnn.ipynb"
    planted.write_text(sorted(solution_notebooks())[0].read_text())
    (tmp_path / "clean.ipynb").write_text(sorted(EXERCISES.glob("[0-9]*/*.ipynb"))[0].read_text())
    assert generated_notes(tmp_path) == [planted]
