"""Gradescope: the autograder zip (``python -m autograder gradescope-zip ASSIGNMENT``), its
runner (``run_autograder`` -> ``python -m autograder gradescope-run``), and the results
format (one test per question) that ``export --format gradescope`` writes too.

The zip, for Gradescope's default image (Ubuntu, Python 3.10, root, no user namespaces, so
no bubblewrap): ``setup.sh`` (once, at image build: a virtualenv with the grader's
requirements, and the packages student code may import), ``run_autograder`` (per
submission), ``autograder/`` (this package), the course's plugin and what it imports,
``source/<assignment>/`` (the instructors' notebooks, hidden tests included),
``nbgrader_config.py`` and ``gradescope.json`` (the settings). ``run_autograder`` makes
``/autograder/source`` and ``/autograder/submission`` mode 0700 and grades in the declared
``container`` mode (`autograder.sandbox`): student code under a private unprivileged uid,
with the same rlimits and timeouts as everywhere.
"""

import json
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from .io import GraderError, atomic_write

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
#: Distributions the grader imports while grading (the plugin's own come on top).
REQUIREMENTS = ("nbformat", "nbgrader", "ipython", "traitlets", "numpy", "PyYAML",
                "python-dateutil", "tqdm")
CONFIG = "gradescope.json"

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd /autograder/source
apt-get install -y --no-install-recommends python3 python3-venv python3-pip
python3 -m venv /opt/autograder-venv
/opt/autograder-venv/bin/pip install --quiet -r requirements.txt
# Packages student code imports go where the unprivileged uid can read them; the grading
# code, the plugin's references and the hidden tests stay in /autograder/source (mode 0700).
site=$(/opt/autograder-venv/bin/python -c \
  'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ -d student_packages ]; then cp -r student_packages/. "$site/"; fi
chmod -R a+rX /opt/autograder-venv
chmod -R go-rwx /autograder/source
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this, as root, for every submission; it writes results/results.json.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-/opt/autograder-venv/bin/python}"
chmod -R go-rwx "$ROOT/source" "$ROOT/submission"
cd "$ROOT/source"
AUTOGRADER_SANDBOX=container exec "$PYTHON" -m autograder gradescope-run --root "$ROOT"
"""


# ------------------------------------------------------------------------ results format

def results(rows, plans=None, visible="visible", hidden="after_published", warnings=()):
    """{(student, assignment): Gradescope results} from grade rows: one test per question
    (manual questions are Gradescope's to grade by hand), a test holding hidden lines with
    visibility `hidden`, the others `visible`; the output is what the row says."""
    for v in (visible, hidden):
        if v not in VISIBILITIES:
            raise GraderError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {v!r}")
    by = {}
    for r in rows:
        by.setdefault((r["student"], r["assignment"]), []).append(r)
    return {key: _one(mine, plans, visible, hidden, warnings) for key, mine in by.items()}


def _is_hidden(plans, r):
    try:
        return bool(plans[r["assignment"]][r["notebook"]].hidden_ranges.get(r["question"]))
    except (KeyError, TypeError):
        return True  # unknown: keep it out of sight until published


def _one(rows, plans, visible, hidden, warnings):
    from .stages.feedback import row_text

    tests, manual = [], 0
    for r in rows:
        if r["status"] == "manual" or r.get("kind") == "manual":
            manual += 1
            continue
        tests.append({"name": f"{r['notebook']}: {r['question']}",
                      "score": round(float(r["score"] or 0), 6),
                      "max_score": float(r["max_score"]),
                      "visibility": hidden if _is_hidden(plans, r) else visible,
                      "output": row_text(r)})
    got = round(sum(t["score"] for t in tests), 6)
    total = round(sum(t["max_score"] for t in tests), 6)
    output = f"Automatic score: {got:g} / {total:g}."
    if manual:
        output += f" {manual} question(s) are graded by hand."
    result = {"score": got, "output": output, "tests": tests,
              "extra_data": {"student": rows[0]["student"], "assignment": rows[0]["assignment"]}}
    if warnings:
        result["extra_data"]["warnings"] = list(warnings)
    return result


def write_results(path, data, secrets):
    """Write one results.json, scrubbed of hidden-test text (and refused if any remains)."""
    from .stages.feedback import REDACTED, Scrubber, scan_text

    scrub = Scrubber(secrets)
    data["output"] = scrub.text(data["output"])
    for t in data["tests"]:
        t["output"] = scrub.text(t["output"])
    text = json.dumps(data, indent=1, ensure_ascii=False)
    if scan_text(text, scrub.secrets):
        text = json.dumps({"score": 0.0, "output": REDACTED, "tests": []})
    atomic_write(path, text)


# -------------------------------------------------------------------------------- the zip

def _local_packages(names, root, seen=None):
    """{import name: folder} of the packages among `names` that live under `root` (the
    course's own code, not installed libraries), with the local packages they import."""
    import ast
    import importlib.util

    seen = {} if seen is None else seen
    for name in names:
        if name in seen:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(list(spec.submodule_search_locations)[0]).resolve()
        if not folder.is_relative_to(Path(root).resolve()) or ".venv" in folder.parts:
            continue
        seen[name] = folder
        imported = set()
        for py in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    imported |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imported.add(node.module.split(".")[0])
        _local_packages(sorted(imported - {name}), root, seen)
    return seen


def requirements():
    """requirements.txt for setup.sh: this environment's versions of what grading imports;
    a version that needs a newer Python than the image's is left to pip there."""
    from packaging.specifiers import SpecifierSet

    lines = []
    for dist in REQUIREMENTS:
        version = metadata.version(dist)
        needs = metadata.metadata(dist).get("Requires-Python") or ""
        if needs and "3.10" not in SpecifierSet(needs):
            lines += [f'{dist}=={version}; python_version >= "3.11"',
                      f'{dist}; python_version < "3.11"']
        else:
            lines.append(f"{dist}=={version}")
    return "\n".join(lines) + "\n"


def _add_tree(z, folder, arcdir):
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and not path.is_symlink():
            z.write(path, f"{arcdir}/{path.relative_to(folder)}")


def _add_text(z, name, text, mode=0o644):
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = (0o100000 | mode) << 16
    z.writestr(info, text)


def build_zip(assignment, settings, dest, visible="visible", hidden="after_published"):
    """Write the Gradescope autograder zip of one assignment; returns its path."""
    from . import plugins
    from .stages.plan import load_plans

    plugin_name = settings.plugin_name()
    plugin = plugins.load(plugin_name)
    try:
        load_plans(settings.source, [assignment], plugin)
    except (FileNotFoundError, ValueError) as e:
        raise GraderError(str(e)) from e
    results({}, None, visible, hidden)  # checks the visibilities
    top = plugin_name.split(":")[0].split(".")[0] if plugin_name else None
    grading = _local_packages([top] if top else [], settings.course)
    student = _local_packages(list(plugin.mounts), settings.course)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    config = {"assignment": assignment, "timeout": settings.timeout,
              "memory": settings.memory, "plugin": plugin_name,
              "visibility": {"visible": visible, "hidden": hidden}}
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        _add_text(z, "setup.sh", SETUP, 0o755)
        _add_text(z, "run_autograder", RUN, 0o755)
        _add_text(z, "requirements.txt", requirements())
        _add_text(z, CONFIG, json.dumps(config, indent=1))
        _add_tree(z, Path(__file__).parent, "autograder")
        for name, folder in grading.items():
            if name not in student and name != "autograder":
                _add_tree(z, folder, name)
        for name, folder in student.items():
            _add_tree(z, folder, f"student_packages/{name}")
        _add_tree(z, Path(settings.source) / assignment, f"source/{assignment}")
        config_file = Path(settings.course) / "nbgrader_config.py"
        if config_file.is_file():
            z.write(config_file, "nbgrader_config.py")
    return dest


# ---------------------------------------------------------------------------- the runner

def _submitted_folder(submission, notebooks):
    """The shallowest folder of the submission that holds one of the notebooks (students
    zip a folder, or upload the notebook alone), else the submission itself."""
    from .files import scan
    from .stages.inputs.names import notebook_of

    found = [Path(rel).parent for rel in scan(submission)[0]
             if rel.lower().endswith(".ipynb") and notebook_of(Path(rel).stem, notebooks)]
    return Path(submission) / min(found, key=lambda p: (len(p.parts), str(p))) if found \
        else Path(submission)


def _lay_out(root, config, tmp):
    """nbgrader's layout of the one submission: tmp/class/submission/<assignment>/."""
    from .files import copy_regular
    from .stages.plan import load_plans

    a = config["assignment"]
    notebooks = [p.stem for p in (root / "source" / "source" / a).glob("*.ipynb")]
    folder = tmp / "class" / "submission" / a
    copy_regular(_submitted_folder(root / "submission", notebooks), folder)
    return load_plans(root / "source" / "source", [a])


def run(root):
    """Grade /autograder/submission (or `root`/submission) and write results/results.json."""
    from .pipeline import grade
    from .settings import Settings

    root = Path(root)
    config = json.loads((root / "source" / CONFIG).read_text(encoding="utf-8"))
    a = config["assignment"]
    out = root / "results" / "results.json"
    with tempfile.TemporaryDirectory(prefix="autograder-gradescope-") as tmp:
        tmp = Path(tmp)
        tmp.chmod(0o700)
        plans = _lay_out(root, config, tmp)
        settings = Settings(tmp / "class", tmp / "out", source=root / "source" / "source",
                            course=root / "source", assignments=[a],
                            timeout=float(config["timeout"]), memory=int(config["memory"]),
                            workers=1, progress=False, plugin=config.get("plugin") or "")
        try:
            rows = grade(settings)
        except GraderError as e:
            atomic_write(out, json.dumps({"score": 0.0, "tests": [], "output": (
                "The autograder could not grade this submission; your instructor can see "
                "why in the autograder's output.")}))
            print(f"autograder: {e}", file=sys.stderr)
            raise
        warnings = json.loads((tmp / "out" / "results.json").read_text()).get(
            "extra_data", {}).get("warnings", [])
    vis = config.get("visibility", {})
    data = results(rows, plans, vis.get("visible", "visible"),
                   vis.get("hidden", "after_published"), warnings)[("submission", a)]
    secrets = sorted({x for nbs in plans.values() for p in nbs.values() for x in p.secrets})
    write_results(out, data, secrets)
    print(f"graded {a}: {data['score']:g}; results in {out}")
    return data
