"""The sandbox on its own: what a student's cell can and cannot reach, the limits, the
protocol pipe, and the run without the sandbox the instructor may ask for (AUTOGRADER_SANDBOX=none):
unprivileged, in a mount namespace where the private uid can reach Python."""

import os
import re
import time
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.sandbox import run_cells

pytestmark = [pytest.mark.xdist_group("autograder_sandbox"), pytest.mark.sandbox]


ROOT = Path(__file__).resolve().parents[1]


def texts(result):
    return "".join(o.get("text", "") for o in result["outputs"] if o["output_type"] == "stream")


def alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


needs_bwrap = pytest.mark.skipif(bool(sandbox._bwrap_problem()),
                                 reason="bubblewrap namespaces unavailable here")


@needs_bwrap
def test_bwrap_isolation(tmp_path):
    (tmp_path / "data.txt").write_text("beside the notebook\n")
    probe = f"""
import os, socket
print("uid", os.getuid())
print("data", open("data.txt").read().strip())
for p in ["{ROOT}/solutions", "{ROOT}/rnnlib", "{ROOT}/autograder", "/root/.ssh", "{tmp_path}"]:
    print("exists", p, os.path.exists(p))
try:
    import rnnlib
    print("rnnlib importable")
except ImportError:
    print("rnnlib hidden")
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2)
    print("network open")
except OSError as e:
    print("network closed")
for target in ("/usr/evil", "{ROOT}/.venv/evil", "/opt/worker.py"):
    try:
        open(target, "w").write("x")
        print("wrote", target)
    except OSError:
        print("read-only", target)
"""
    [res], events = run_cells(str(tmp_path), [{"source": probe}], timeout=20)
    out = texts(res)
    assert res["status"] == "ok", res
    assert re.search(r"^uid (\d+)$", out, re.M).group(1) != "0"
    assert "data beside the notebook" in out
    assert "exists" in out and "True" not in out.replace("data beside", "")
    assert "rnnlib hidden" in out and "network closed" in out
    assert "wrote" not in out and out.count("read-only") == 3
    assert not (ROOT / ".venv" / "evil").exists()


@needs_bwrap
def test_forged_results_and_process_limit():
    forge = ("import os, sys, json\n"
             "os.write(int(sys.argv[2]), (json.dumps({'cell': 2, 'status': 'ok', 'outputs': [],"
             " 'line': None}) + '\\n').encode())")
    cells = [{"source": forge}, {"source": "1"}, {"source": "assert False", "test": True}]
    # (a line with the right cell number but without the cell's token is a forgery too)
    results, events = run_cells(None, cells, timeout=20)
    assert "protocol violation" in events
    assert {r["status"] for r in results[:2]} <= {"ok", "tampered"}
    assert results[2]["status"] != "ok"

    bomb = ("import os\nn = 0\nfor _ in range(500):\n    try:\n        pid = os.fork()\n"
            "    except OSError:\n        break\n    if pid == 0:\n        import time\n"
            "        time.sleep(60)\n        os._exit(0)\n    n += 1\nprint('forked', n)")
    [res], _ = run_cells(None, [{"source": bomb}], timeout=20)
    forked = int(re.search(r"forked (\d+)", texts(res)).group(1))
    assert forked < sandbox.NPROC


RUN_UNSANDBOXED = """
import json, sys
from autograder.sandbox import run_cells
cells, files, timeout = json.loads(sys.stdin.read())
results, events = run_cells(files, cells, timeout=timeout, memory_mb=1024)
print(json.dumps([results, events]))
"""


def run_unsandboxed(cells, files=None, timeout=10):
    """run_cells with AUTOGRADER_SANDBOX=none, in a process where the private uid can reach
    Python (see `autograder_corpus.reachable_python`)."""
    import json
    import subprocess
    import sys

    import autograder_corpus

    env = dict(os.environ, AUTOGRADER_SANDBOX="none", PYTHONPATH=str(ROOT))
    cmd = autograder_corpus.reachable_python([sys.executable, "-c", RUN_UNSANDBOXED])
    run = subprocess.run(cmd, input=json.dumps([cells, files, timeout]), capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_fallback_without_namespaces(tmp_path):
    daemon = ("import os, signal, time\n"
              "r, w = os.pipe()\n"
              "if os.fork() == 0:\n"
              "    os.setsid()\n"
              "    if os.fork() == 0:\n"
              "        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "        os.write(w, str(os.getpid()).encode())\n"
              "        time.sleep(600)\n"
              "    os._exit(0)\n"
              "print('daemon', os.read(r, 32).decode())")
    cells = [{"source": daemon},
             {"source": "import numpy\nx = numpy.ones(3)\nx.sum()"},
             {"source": "hog = numpy.empty(2**31)", "test": True},
             {"source": "hog = None\nwhile True:\n    pass", "test": True},
             {"source": "print('still here')"},
             {"source": "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                        "while True:\n    pass"},
             {"source": "print('never')"}]
    t0 = time.monotonic()
    results, events = run_unsandboxed(cells, str(tmp_path), timeout=3)
    took = time.monotonic() - t0
    assert [r["status"] for r in results] == ["ok", "ok", "memory", "timeout", "ok", "timeout",
                                              "timeout"], results
    assert "still here" in texts(results[4])
    pid = int(re.search(r"daemon (\d+)", texts(results[0])).group(1))
    assert not alive(pid), "a setsid daemon that ignores SIGTERM survived the fallback"
    assert took < 3 * 3 + sandbox.GRACE + 30


def test_fallback_runs_unprivileged(tmp_path):
    probe = "import os\nprint('uid', os.getuid(), 'euid', os.geteuid())"
    [res], _ = run_unsandboxed([{"source": probe}], str(tmp_path))
    uids = re.search(r"uid (\d+) euid (\d+)", texts(res)).groups()
    assert res["status"] == "ok" and "0" not in uids, res


def test_crash_is_reported():
    results, _ = run_unsandboxed([{"source": "print(1)"}, {"source": "import os\nos._exit(1)"},
                                  {"source": "print(2)"}], timeout=10)
    assert [r["status"] for r in results] == ["ok", "crashed", "crashed"]


@needs_bwrap
def test_a_spare_sandbox_serves_one_notebook_and_sees_its_files(tmp_path):
    """The sandbox started ahead of a notebook (sandbox._Spare) gets that notebook's files,
    and nothing of the notebook before it: not its files, its variables, its processes or its
    uid."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "mine.txt").write_text("first\n")
    (second / "mine.txt").write_text("second\n")
    leave = ("import os, subprocess\nopen('left.txt', 'w').write('x')\nsecret = 42\n"
             "subprocess.Popen(['sleep', '311.713'])\nprint(os.getuid())")
    look = ("import os\nprint(open('mine.txt').read().strip(), os.path.exists('left.txt'),"
            " 'secret' in globals(), os.getuid())")
    sandbox._SPARE.close()
    ran, _ = run_cells(first, [{"source": leave, "test": False}], spare=True)
    assert sandbox._SPARE.session is not None  # started while the first notebook ran
    spare_pid = sandbox._SPARE.session.proc.pid
    ran2, _ = run_cells(second, [{"source": look, "test": False}], spare=False)
    assert sandbox._SPARE.session is None and ran2[0]["status"] == "ok", ran2
    words = texts(ran2[0]).split()
    assert words[:3] == ["second", "False", "False"]
    if os.getuid() == 0:
        assert words[3] != texts(ran[0]).strip()  # the other of the process's two uids
    assert not alive(spare_pid)
    left = [p for p in Path("/proc").iterdir() if p.name.isdigit()
            and "sleep\x00311.713" in _cmdline(p)]
    assert not left, "the first notebook's process outlived its sandbox"


def _cmdline(proc):
    try:
        return (proc / "cmdline").read_text()
    except OSError:
        return ""
