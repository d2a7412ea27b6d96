"""Stage *feedback*: one notebook's rows (the CSV's words) and its feedback page, and the
scrubbing that keeps hidden tests out of OUT.

What a student sees: the scores per question with why a question was lost (the row's
message, the same words as in grades.csv and results.json), their own cells with their
outputs, and for each test cell only its visible text, pass/fail and the message of a
failing *visible* line, or the course plugin's safe explanation of a failing hidden one
(which output differs and by how much, never an input). Test cells that contain hidden lines
show no output at all (a hidden line could have printed it), and every text that reaches the
page goes through `Scrubber`.

Markdown cells are rendered (markdown-it-py, raw HTML escaped, no images from elsewhere) with
their LaTeX converted to MathML when the page is written (latex2mathml), so the page stays
one self-contained file without scripts that an LMS accepts.
"""

import html
import re
from functools import lru_cache
from pathlib import Path

from ..files import describe
from .plan import BEGIN_HIDDEN, END_HIDDEN, nb_meta, normalise, squash

#: Worker statuses that stop the questions after them: a later failure carries their name.
CAUSES = ("timeout", "memory", "disk", "crashed")

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
REDACTED = "[line removed: it contains the text of a hidden test]"


class Scrubber:
    """Removes every line that contains a hidden-test line (compared whitespace-free)."""

    def __init__(self, secrets):
        # nbgrader's markers go too: they say where hidden tests were and how many lines.
        self.secrets = [s for s in secrets if s] + [normalise(BEGIN_HIDDEN),
                                                     normalise(END_HIDDEN)]
        self.squashed = _squashed(tuple(self.secrets))

    def leaks(self, text):
        flat = squash(text)
        return [s for s, q in self.squashed if q in flat]

    def text(self, text):
        if not text:
            return text
        if not self.leaks(text):
            return text
        out = []
        for line in text.splitlines(keepends=True):
            out.append(REDACTED + "\n" if self.leaks(line) else line)
        result = "".join(out)
        # A secret written across several lines survives the line test: drop everything.
        return result if not self.leaks(result) else REDACTED + "\n"


def scan_text(text, secrets):
    """The secrets found in `text`, also after undoing HTML and JSON escaping."""
    variants = [text, html.unescape(text)]
    variants.append(variants[1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
    found = set()
    targets = _squashed(tuple(secrets))
    for v in variants:
        flat = squash(v)
        found.update(s for s, q in targets if q in flat)
    return sorted(found)


@lru_cache(maxsize=64)
def _squashed(secrets):
    # (a run scans every file of OUT for the same secrets)
    return [(s, squash(s)) for s in secrets]


def scan_tree(root, secrets):
    """{path: [secret, ...]} for every file under `root` that contains a hidden-test line."""
    hits = {}
    for path in sorted(Path(root).rglob("*")):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            found = scan_text(text, secrets)
            if found:
                hits[str(path)] = found
    return hits


CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;white-space:pre-wrap}
.cell{border-left:4px solid #ccc;margin:1.2rem 0;padding-left:.8rem}
.test.pass{border-color:#2a7}.test.fail{border-color:#c33}
.out{background:#fff;border:1px dashed #ccc}
.ok{color:#2a7}.bad{color:#c33}.muted{color:#777}
.md{border-color:#eee}math[display=block]{margin:.6rem 0}
"""


def _pre(text, cls=""):
    return f'<pre class="{cls}">{html.escape(text)}</pre>' if text else ""


def _mathml(latex, display):
    from latex2mathml.converter import convert

    try:
        return convert(latex, display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - the converter raises many kinds on LaTeX it lacks
        return f"<code>{html.escape(latex)}</code>"


@lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    # html=False: a student's raw HTML is shown as text; images would load from elsewhere.
    md = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")
    md.use(dollarmath_plugin, allow_labels=False, double_inline=True)
    md.add_render_rule("math_inline", lambda self, tokens, idx, options, env:
                       _mathml(tokens[idx].content, False))
    for rule in ("math_block", "math_inline_double"):
        md.add_render_rule(rule, lambda self, tokens, idx, options, env:
                           _mathml(tokens[idx].content, True) + "\n")
    return md


@lru_cache(maxsize=4096)
def markdown(text):
    """The HTML of a markdown cell's (already scrubbed) text, math as MathML, no scripts.
    Cached: most markdown cells are the instructors' and the same in every notebook of a
    class (rendering is a pure function of the text)."""
    return _markdown().render(text)


def _outputs(outputs, scrub):
    parts = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(_pre(scrub(out.get("text", "")), "out"))
        elif kind in ("display_data", "execute_result"):
            data = out.get("data", {})
            for mime in ("image/png", "image/jpeg"):
                if isinstance(data.get(mime), str) and re.fullmatch(r"[A-Za-z0-9+/=\s]+",
                                                                   data[mime]):
                    src = f"data:{mime};base64,{data[mime].strip()}"
                    parts.append(f'<img alt="figure" src="{src}">')
                    break
            else:
                text = data.get("text/plain")
                if isinstance(text, str):
                    parts.append(_pre(scrub(text), "out"))
        elif kind == "error":
            tb = "\n".join(out.get("traceback") or [])
            text = ANSI.sub("", tb) or f"{out.get('ename')}: {out.get('evalue')}"
            parts.append(_pre(scrub(text), "out"))
    return "".join(parts)


def render(student, assignment, notebook, rows, cells, plan, scrubber, note=""):
    """The feedback page. `cells` are the executed notebook's cells (dicts with kind,
    source, outputs, status, line, grade_id, verdict, message)."""
    scrub = scrubber.text
    title = f"{assignment} / {notebook}: {student}"
    auto = [r for r in rows if r.get("kind", "auto") == "auto"]
    got = sum(float(r["score"] or 0) for r in auto)
    total = sum(float(r["max_score"]) for r in auto)
    head = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{CSS}</style></head><body>",
            f"<h1>{html.escape(title)}</h1>",
            f"<p>Automatic score: <b>{got:g} / {total:g}</b>"
            " (questions marked <i>manual</i> are graded by a person).</p>"]
    by_person = [r for r in rows if r["status"] == "graded"]
    if by_person:
        head.append(f"<p>Graded by a person: <b>{sum(float(r['score']) for r in by_person):g}"
                    f" / {sum(float(r['max_score']) for r in by_person):g}</b></p>")
    if note:
        head.append(f"<p class='bad'>{html.escape(scrub(note))}</p>")
    comments = any(r.get("comment") for r in rows)
    head.append("<table><tr><th>question</th><th>score</th><th>max</th><th>status</th>"
                + ("<th>comment</th>" if comments else "") + "</tr>")
    for r in rows:
        comment = (f"<td>{html.escape(scrub(r.get('comment') or ''))}</td>" if comments else "")
        why = r.get("message") or ""
        status = html.escape(r["status"]) + (f": {html.escape(scrub(why))}" if why else "")
        head.append(f"<tr><td>{html.escape(r['question'])}</td><td>{html.escape(str(r['score']))}"
                    f"</td><td>{r['max_score']:g}</td><td>{status}</td>"
                    f"{comment}</tr>")
    head.append("</table>")
    body = []
    for cell in cells:
        kind = cell["kind"]
        if cell.get("cell_type") == "markdown":
            body.append(f"<div class='cell md'>{markdown(scrub(cell['source']))}</div>")
            continue
        if kind == "test":
            gid = cell["grade_id"]
            passed = cell.get("verdict") == "pass"
            word = next((r["status"] for r in rows if r["question"] == gid), "not run")
            label = "passed" if passed else f"not passed ({word})"
            visible = plan.release.get(gid, "")
            msg = cell.get("message") or ""
            body.append(f"<div class='cell test {'pass' if passed else 'fail'}'>"
                        f"<p><b>test {html.escape(gid)}</b>: "
                        f"<span class='{'ok' if passed else 'bad'}'>{label}</span></p>"
                        f"{_pre(scrub(visible))}{_pre(scrub(msg), 'out')}")
            if not plan.hidden_ranges.get(gid):
                body.append(_outputs(cell.get("outputs", []), scrub))
            body.append("</div>")
            continue
        status = cell.get("status", "not run")
        body.append(f"<div class='cell'><p class='muted'>{html.escape(kind)} cell: "
                    f"{html.escape(status)}</p>{_pre(scrub(cell['source']))}"
                    f"{_outputs(cell.get('outputs', []), scrub)}</div>")
    return "".join(head + body + ["</body></html>\n"])


def render_graded(student, assignment, notebook, nb, plan, info):
    """The feedback page of a notebook graded in a course: from its autograded notebook
    (stages.course) and the gradebook's grades, comments and late penalty (`info`, from
    stages.gradebook.graded)."""
    cells = []
    for c in nb.cells:
        mine = c.get("metadata", {}).get("autograder", {})
        verdict = mine.get("verdict", "")
        cells.append({"cell_type": c.cell_type, "kind": mine.get("kind", "student"),
                      "grade_id": nb_meta(c).get("grade_id"), "source": c.source,
                      "outputs": c.get("outputs", []), "status": mine.get("status", ""),
                      "verdict": "pass" if verdict == "ok" else "fail",
                      "message": mine.get("message", ""), "verdict_word": verdict})
    words = {c["grade_id"]: c["verdict_word"] for c in cells if c["grade_id"]}
    rows = []
    for q in plan.questions:
        g = info["grades"].get(q.grade_id, {})
        by_person = g.get("manual") is not None
        score = g.get("manual") if by_person else g.get("auto")
        status = "graded" if by_person else (words.get(q.grade_id) or (
            "manual" if score is None else "unanswered"))
        rows.append({"question": q.grade_id, "kind": q.kind, "max_score": q.points,
                     "score": "" if score is None else score, "status": status,
                     "comment": g.get("comment", "")})
    note = nb.metadata.get("autograder", {}).get("note", "")
    if info.get("late"):
        note = "; ".join(n for n in (note, _late(info)) if n)
    return render(student, assignment, notebook, rows, cells, plan, Scrubber(plan.secrets),
                  note)


def _late(info):
    hours = info["late"] / 3600
    penalty = info.get("penalty") or 0
    return (f"submitted {hours:.1f} h after the due date"
            + (f"; late penalty {penalty:g} points" if penalty else ""))


def feedback(run):
    """The notebook's rows and page, from the verdicts (or its status as a whole)."""
    job, plan = run.job, run.plan
    if run.status:
        run.rows = [_row(job, q, "" if q.kind == "manual" else 0.0, run.status, run.note)
                    for q in plan.questions]
        cells = []
    else:
        run.note = _notes(job, run.code, run.events, run.restored)
        run.rows = _rows(run)
        cells = run.cells
    run.feedback = render(job["student"], job["assignment"], job["notebook"], run.rows, cells,
                          plan, Scrubber(plan.secrets), run.note)


def _row(job, q, score, status, note="", restored="", message=""):
    return {"student": job["student"], "assignment": job["assignment"],
            "notebook": job["notebook"], "question": q.grade_id, "kind": q.kind,
            "score": score if score == "" else round(float(score), 6),
            "max_score": q.points, "status": status, "restored": restored, "note": note,
            "message": message}


def row_text(row):
    """What a row says in words, the same in results.json and in the feedback page:
    ``failed: rnn_step_backward: dx differs from the reference (relative error 5.1e-02)``,
    then the notebook's note."""
    text = row["status"] + (f": {row['message']}" if row.get("message") else "")
    return text + (f"; {row['note']}" if row.get("note") else "")


def _rows(run):
    code = run.code
    tests = {c["grade_id"]: (i, c) for i, c in enumerate(code) if c["kind"] == "test"}
    first = next(((i, c["status"]) for i, c in enumerate(code) if c["status"] in CAUSES), None)
    rows = []
    for q in run.plan.questions:
        if q.kind == "manual":
            score, status, message = run.verdicts.get(q.grade_id, ("", "manual", ""))
            rows.append(_row(run.job, q, score, status, run.note, message=message))
            continue
        score, status, message = run.verdicts[q.grade_id]
        position, cell = tests[q.grade_id]
        # A question lost because an earlier cell hung, blew the memory or killed the
        # kernel carries that cause rather than a plain "failed".
        if status == "failed" and first and first[0] <= position:
            status = first[1]
        cell["verdict"] = "pass" if status == "ok" else "fail"
        cell["message"] = message
        rows.append(_row(run.job, q, score, status, run.note, run.restored.get(q.grade_id, ""),
                         "" if status == "ok" else message))
    return rows


def _altered(cells):
    """What the student's code changed that the worker watches, in the order first seen."""
    seen = []
    for c in cells:
        seen += [a for a in c.get("altered", []) if a not in seen]
    return seen


def _notes(job, code, events, restored):
    notes = [*job.get("notes", []), describe(job.get("skipped") or [])]
    if restored:
        notes.append("put back from the source, as released: " + ", ".join(
            f"{gid} ({why})" for gid, why in restored.items()))
    altered = _altered(code)
    if altered:
        notes.append("seen in the student's code: " + ", ".join(altered)
                     + " (tests ran without them)")
    notes += [e for e in events if e != "protocol violation"]
    if "protocol violation" in events:
        notes.append("student code wrote into the grader's result channel")
    return "; ".join(n for n in notes if n)
