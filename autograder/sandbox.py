"""Run one notebook's cells in a sandboxed worker process (`autograder/worker.py`).

Two modes, chosen by ``AUTOGRADER_SANDBOX`` (``auto`` by default):

* ``bwrap``: bubblewrap with fresh pid, network, IPC and UTS namespaces; a read-only view of
  /usr, the Python installation, the virtualenv and the student package only; the
  submission copied into a private directory, the only writable place. The worker then
  drops to an unprivileged uid of its own. Killing bwrap kills the pid namespace and with it
  every process the student started (``--die-with-parent``).
* ``none`` (the fallback where namespaces are unavailable): the same worker, resource limits,
  private directory, uid and timeouts, but no filesystem or network isolation; leftovers are
  killed through the process group and, when the grader is root, by killing every process
  of the worker's private uid.

In both modes: RLIMIT_AS (``--memory``), RLIMIT_NPROC, RLIMIT_CPU, RLIMIT_FSIZE, a
wall-clock limit per cell (SIGALRM inside, SIGKILL from outside after a grace period) and
per notebook (ten times the cell limit).
"""

import ctypes
import importlib.util
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

WORKER = Path(__file__).with_name("worker.py")
GRACE = 3.0  # seconds the worker gets to report a timeout itself before it is killed
STARTUP = 120.0  # seconds for the worker to import IPython (slow on a loaded machine)
NPROC = 64
FSIZE = 256 * 2**20
BASE_UID = 200_000


def sandbox_mode():
    """The sandbox that will be used: 'bwrap' or 'none'."""
    mode = os.environ.get("AUTOGRADER_SANDBOX", "auto")
    if mode not in ("auto", "bwrap", "none"):
        raise ValueError(f"AUTOGRADER_SANDBOX must be auto, bwrap or none, not {mode!r}")
    if mode == "auto":
        return "bwrap" if _bwrap_works() else "none"
    return mode


@lru_cache(maxsize=1)
def _bwrap_works():
    exe = shutil.which("bwrap")
    if exe is None:
        return False
    probe = _bwrap_prefix(exe, "/") + ["/bin/true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _student_package_dirs():
    spec = importlib.util.find_spec("rnntools")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [str(Path(p).resolve()) for p in spec.submodule_search_locations]


def _bwrap_prefix(exe, sandbox_dir):
    cmd = [exe, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
           "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
           "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
           "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
           "--tmpfs", "/tmp", "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for name in ("bin", "lib", "lib64", "sbin", "lib32"):
        path = Path("/") / name
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), str(path)]
    binds = sorted({str(Path(sys.base_prefix).resolve()), sys.prefix, *_student_package_dirs()})
    # bwrap makes the missing parents of a mount point mode 0700, which the unprivileged
    # uid could not cross.
    parents = sorted({str(p) for b in binds for p in Path(b).parents if str(p) != "/"})
    for path in parents:
        cmd += ["--perms", "0755", "--dir", path]
    for path in binds:
        cmd += ["--ro-bind", path, path]
    cmd += ["--bind", sandbox_dir, "/sandbox", "--ro-bind", str(WORKER), "/opt/worker.py",
            "--chdir", "/sandbox/work"]
    return cmd


@lru_cache(maxsize=2)
def _can_drop(mode):
    """Whether the worker can run as a private unprivileged uid (needs root, and in the
    fallback mode a Python installation that other users can read)."""
    if os.getuid() != 0:
        return False
    if mode == "bwrap":
        return True
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(BASE_UID)
            os.setuid(BASE_UID)
            for path in (sys.base_prefix, sys.prefix, *_student_package_dirs()):
                os.listdir(path)
            os._exit(0)
        except OSError:
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


def _limits(memory_mb, cpu_seconds):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20,) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_NPROC, (NPROC, NPROC))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE, FSIZE))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _kill_uid(uid):
    """Kill every process owned by `uid` (a uid used by nothing but one sandbox)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(uid)
            os.setuid(uid)
            for _ in range(3):
                os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        os._exit(0)
    os.waitpid(pid, 0)


class _Lines:
    """Read JSON lines from a pipe with a deadline."""

    def __init__(self, fd):
        self.fd, self.buf = fd, b""

    def read(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout", None
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return "eof", None
            self.buf += chunk
            if len(self.buf) > 256 * 2**20:
                return "eof", None
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            return "ok", json.loads(line)
        except ValueError:
            return "garbage", None


def run_cells(files_dir, cells, *, timeout=30.0, memory_mb=2048, max_output=200_000):
    """Run `cells` (dicts with 'source' and 'test') in a fresh sandboxed worker.

    files_dir : folder whose files are copied into the worker's working directory (the
        student's submission folder), or None.
    Returns (results, events): one dict per cell with 'status' in ok, error, timeout,
    memory, crashed, and the captured 'outputs' and failing 'line'; events is a list of
    strings about the run as a whole (e.g. 'notebook timeout', 'protocol violation').
    """
    mode = sandbox_mode()
    keep = frozenset()
    if mode == "none":
        _become_subreaper()
        keep = frozenset(_children())  # this process's own children stay alive
    uid = BASE_UID + os.getpid() if _can_drop(mode) else None
    tmp = tempfile.mkdtemp(prefix="autograder-")
    work = Path(tmp) / "work"
    if files_dir is not None:
        shutil.copytree(files_dir, work, symlinks=False,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    else:
        work.mkdir()
    for sub in ("home", "tmp"):
        (Path(tmp) / sub).mkdir()
    if uid is not None:
        for dirpath, dirnames, filenames in os.walk(tmp):
            for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                os.lchown(name, uid, uid)
    inside = "/sandbox" if mode == "bwrap" else tmp
    env = {"PATH": f"{sys.prefix}/bin:/usr/bin:/bin", "HOME": f"{inside}/home",
           "TMPDIR": f"{inside}/tmp", "IPYTHONDIR": f"{inside}/home/.ipython",
           "MPLCONFIGDIR": f"{inside}/home/.mpl", "MPLBACKEND": "Agg", "LANG": "C.UTF-8",
           "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:  # correctness settings of this machine's OpenBLAS
            env[key] = os.environ[key]
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    python = os.path.join(sys.prefix, "bin", "python")
    if mode == "bwrap":
        cmd = _bwrap_prefix(shutil.which("bwrap"), tmp) + [
            python, "-I", "/opt/worker.py", str(in_r), str(out_w)]
        cwd = None
    else:
        cmd = [python, "-I", str(WORKER), str(in_r), str(out_w)]
        cwd = str(work)
    notebook_limit = 10 * timeout
    proc = subprocess.Popen(cmd, pass_fds=(in_r, out_w), env=env, cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_limits(memory_mb, int(notebook_limit) + 30))
    os.close(in_r)
    os.close(out_w)
    results, events = [], []
    lines = _Lines(out_r)
    seen = set()
    try:
        send = os.fdopen(in_w, "w", encoding="utf-8")
        setup = {"uid": uid, "timeout": timeout, "max_output": max_output}
        send.write(json.dumps({"setup": setup}) + "\n")
        send.flush()
        state, msg = lines.read(time.monotonic() + STARTUP)
        if state != "ok" or not msg.get("ready"):
            err = proc.stderr.read1(4000).decode(errors="replace") if state == "eof" else ""
            raise RuntimeError(f"sandboxed worker did not start ({state}) {err}")
        start = time.monotonic()
        dead = None
        for i, cell in enumerate(cells):
            if dead is not None:
                results.append({"status": dead, "outputs": [], "line": None})
                continue
            send.write(json.dumps({"cell": i, "source": cell["source"],
                                   "test": bool(cell.get("test"))}) + "\n")
            send.flush()
            deadline = min(time.monotonic() + timeout + GRACE, start + notebook_limit)
            while True:
                state, msg = lines.read(deadline)
                # A message for a cell other than the one being run was written by the
                # student's code into the protocol pipe: nothing from this run is trusted.
                if state == "ok" and (msg.get("cell") != i or i in seen):
                    events.append("protocol violation")
                    state = "garbage"
                break
            if state == "ok":
                seen.add(i)
                results.append({"status": msg.get("status", "error"),
                                "outputs": msg.get("outputs", []), "line": msg.get("line")})
            elif state == "timeout":
                late = time.monotonic() >= start + notebook_limit
                events.append("notebook timeout" if late else "cell timeout (killed)")
                dead = "timeout"
                results.append({"status": "timeout", "outputs": [], "line": None})
                _stop(proc, uid, keep)
            else:
                dead = "crashed" if state == "eof" else "tampered"
                results.append({"status": dead, "outputs": [], "line": None})
                _stop(proc, uid, keep)
        if dead is None:
            try:
                send.write(json.dumps({"end": True}) + "\n")
                send.flush()
            except OSError:
                pass
    except BrokenPipeError:
        events.append("worker died")
        while len(results) < len(cells):
            results.append({"status": "crashed", "outputs": [], "line": None})
    finally:
        _stop(proc, uid, keep)
        try:
            send.close()
        except (OSError, UnboundLocalError):
            pass
        os.close(out_r)
        proc.stderr.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return results, events


def _become_subreaper():
    # Orphans of the student's processes (a double fork, setsid) are re-parented to this
    # process instead of init, so `_reap_children` finds them even without namespaces.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _children():
    me, found = str(os.getpid()), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == me:
            found.append(int(stat.parent.name))
    return found


def _reap_children(keep=()):
    """SIGKILL and reap every child of this process but `keep`, until none is left."""
    for _ in range(100):
        pids = [p for p in _children() if p not in keep]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _stop(proc, uid, keep=frozenset()):
    """SIGKILL the worker's whole process group (and namespace), then anything of its uid,
    then any orphan of it that was re-parented to us."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    if uid is not None:
        _kill_uid(uid)
    if sandbox_mode() == "none":
        _reap_children(keep=keep)
