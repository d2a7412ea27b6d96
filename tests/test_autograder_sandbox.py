"""The sandbox on its own: what a student's cell can and cannot reach, the limits, the
protocol pipe, and the documented fallback without namespaces (AUTOGRADER_SANDBOX=none)."""

import os
import re
import time
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.sandbox import run_cells

# Every module that starts grader sandboxes runs on one xdist worker, one after another: the
# "no process left behind" check counts processes of the grader's private uids, and would
# otherwise count another module's live sandboxes as leaked.
pytestmark = pytest.mark.xdist_group("grader-sandboxes")


ROOT = Path(__file__).resolve().parents[1]


def texts(result):
    return "".join(o.get("text", "") for o in result["outputs"] if o["output_type"] == "stream")


def alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


needs_bwrap = pytest.mark.skipif(sandbox.sandbox_mode() != "bwrap",
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


def test_fallback_without_namespaces(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOGRADER_SANDBOX", "none")
    assert sandbox.sandbox_mode() == "none"
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
    results, events = run_cells(str(tmp_path), cells, timeout=3, memory_mb=1024)
    took = time.monotonic() - t0
    assert [r["status"] for r in results] == ["ok", "ok", "memory", "timeout", "ok", "timeout",
                                              "timeout"], results
    assert "still here" in texts(results[4])
    pid = int(re.search(r"daemon (\d+)", texts(results[0])).group(1))
    assert not alive(pid), "a setsid daemon that ignores SIGTERM survived the fallback"
    assert took < 3 * 3 + sandbox.GRACE + 20
    assert os.environ["AUTOGRADER_SANDBOX"] == "none"  # monkeypatch restores it afterwards


def test_crash_is_reported(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_SANDBOX", "none")
    results, _ = run_cells(None, [{"source": "print(1)"}, {"source": "import os\nos._exit(1)"},
                                  {"source": "print(2)"}], timeout=10)
    assert [r["status"] for r in results] == ["ok", "crashed", "crashed"]
