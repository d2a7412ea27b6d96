"""Run one notebook's cells in a sandboxed worker process (`autograder/worker.py`).

Two modes:

* ``bwrap`` (the default, and the only one chosen without being asked): bubblewrap with
  fresh pid, network, IPC and UTS namespaces; a read-only view of /usr, the Python
  installation, the virtualenv and the packages the course's plugin names only; the
  submission's regular files copied into a private directory, the only writable place. The
  worker then drops to an unprivileged uid of its own. Killing bwrap kills the pid namespace
  and with it every process the student started (``--die-with-parent``).
* ``none``, only when the instructor asks for it (``--no-sandbox`` or
  ``AUTOGRADER_SANDBOX=none``): the same worker, resource limits, private directory and
  timeouts, but no filesystem or network isolation. Student code still never runs as root:
  a root grader runs the worker under a private uid, and refuses to start when that uid
  could not run Python or could read the source notebooks or the submissions.
* ``container``, declared by a runner inside a throw-away container without user namespaces
  (Gradescope's ``run_autograder`` sets ``AUTOGRADER_SANDBOX=container``): ``none`` with its
  root-only guarantees required: refused unless the grader is root, so that student code
  always runs under the private uid, which must not be able to read the source or the
  submission (the runner makes them mode 0700).

Without a working bwrap the grader refuses to run student code (`SandboxUnavailable`), with
a message that says what is missing and how to install it.

In both modes: RLIMIT_AS (``--memory``), RLIMIT_NPROC, RLIMIT_CPU, RLIMIT_FSIZE, a
wall-clock limit per cell (SIGALRM inside, SIGKILL from outside after a grace period) and
per notebook (ten times the cell limit).
"""

import atexit
import ctypes
import importlib.util
import json
import os
import resource
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time
from functools import lru_cache
from multiprocessing.util import Finalize
from pathlib import Path

from . import tempdirs
from .files import copy_regular
from .testcell import prepare

WORKER = Path(__file__).with_name("worker.py")
GRACE = 3.0  # seconds the worker gets to report a timeout itself before it is killed
STARTUP = 120.0  # seconds for the worker to import IPython (slow on a loaded machine)
NPROC = 64
FSIZE = 256 * 2**20


def _base_uid():
    # Each worker runs as BASE_UID + the grading process's pid: a range no account uses.
    # AUTOGRADER_BASE_UID moves it (e.g. for two graders on one machine that count their
    # own processes).
    base = int(os.environ.get("AUTOGRADER_BASE_UID", "200000"))
    if not 1000 <= base <= 2**31 - 2**23:
        raise ValueError(f"AUTOGRADER_BASE_UID must be in [1000, 2**31 - 2**23], not {base}")
    return base


BASE_UID = _base_uid()
STAGED = ("work", "home", "tmp")  # the writable folders of a sandbox
DISK_MB = 256  # the default size of everything a sandbox may write


class SandboxUnavailable(Exception):
    """Student code cannot be run safely here (the grader refuses to grade)."""


INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; "
                "`make system` does it), or, only for submissions you trust, pass --no-sandbox")


#: The modes that run the worker without bubblewrap, under the private uid when root.
UNCONTAINED = ("none", "container")


def requested_mode():
    """The mode the instructor asked for: 'bwrap' (default), 'none' or 'container'."""
    mode = os.environ.get("AUTOGRADER_SANDBOX", "bwrap")
    if mode == "auto":  # the old default, which fell back silently: now it means bwrap
        mode = "bwrap"
    if mode not in ("bwrap", *UNCONTAINED):
        raise ValueError(f"AUTOGRADER_SANDBOX must be bwrap, none or container, not {mode!r}")
    return mode


def sandbox_mode():
    """The sandbox that will be used: 'bwrap' or 'none' (only when asked for)."""
    return requested_mode()


def check_mode(mode, private_paths=(), mounts=()):
    """Raise SandboxUnavailable unless student code can run in `mode` here, unprivileged.

    private_paths: folders and files that student code must not be able to read (the
    source notebooks, the submissions); checked for the private uid in mode 'none'.
    mounts: import names of the packages student code needs (the course plugin's)."""
    if mode == "bwrap":
        problem = _bwrap_problem()
        if problem:
            raise SandboxUnavailable(f"the bubblewrap sandbox cannot start ({problem}); "
                                     + INSTALL_HINT)
        return
    if os.getuid() != 0:
        if mode == "container":
            raise SandboxUnavailable("the container mode runs student code under an "
                                     "unprivileged uid, which needs a grader running as root")
        return  # runs as the instructor's own user, never as root (warned about by the caller)
    # The worker reads its own file as root, before it drops to the private uid.
    blocked = _unreachable_for(BASE_UID, tuple(mounts), worker=mode != "container")
    if blocked:
        raise SandboxUnavailable(
            f"--no-sandbox as root runs student code as an unprivileged uid, which cannot "
            f"read {blocked}; make the Python installation readable by other users or "
            "install bubblewrap")
    readable = [str(p) for p in private_paths if _readable_by(BASE_UID, p)]
    if readable:
        raise SandboxUnavailable(
            "--no-sandbox: student code could read " + ", ".join(readable)
            + " (readable by other users); run `chmod -R go-rwx` on them first")


def warning(mode):
    """The warning printed in the summary and recorded in results.json, or ''."""
    if mode == "container":
        return ("container mode: student code ran under an unprivileged uid without "
                "bubblewrap; the container is its only filesystem and network isolation")
    if mode != "none":
        return ""
    who = ("an unprivileged private uid" if os.getuid() == 0
           else f"your own user (uid {os.getuid()}), with access to everything you can read")
    return ("UNSANDBOXED (--no-sandbox): student code ran without filesystem or network "
            f"isolation, as {who}")


def _bwrap_problem():
    exe = shutil.which("bwrap")
    if exe is None:
        return "bwrap is not on PATH"
    return _bwrap_probe(exe)


@lru_cache(maxsize=4)
def _bwrap_probe(exe):
    probe = _bwrap_prefix(exe, "/") + ["/bin/true"]
    try:
        run = subprocess.run(probe, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return f"{exe}: {e}"
    if run.returncode != 0:
        err = run.stderr.decode(errors="replace").strip().splitlines()
        return f"{exe} exited {run.returncode}" + (f": {err[-1]}" if err else "")
    return ""


def _as_uid(uid, probe):
    """Run `probe()` (returns bool) in a child process under `uid`; its result."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os._exit(0 if probe() else 1)
        except BaseException:
            os._exit(2)
    return os.waitpid(pid, 0)[1] == 0


@lru_cache(maxsize=8)
def _unreachable_for(uid, mounts=(), worker=True):
    """The first path the worker needs that `uid` cannot read, or ''."""
    needed = [sys.base_prefix, sys.prefix, *([str(WORKER)] if worker else []),
              *package_dirs(mounts)]
    for path in needed:
        if not _as_uid(uid, lambda p=path: os.access(p, os.R_OK)):
            return path
    return ""


def _readable_by(uid, path):
    def probe():
        try:
            if os.path.isdir(path):
                os.listdir(path)
            else:
                with open(path, "rb") as f:
                    f.read(1)
            return True
        except OSError:
            return False
    return _as_uid(uid, probe)


def package_dirs(names):
    """The folders of the packages with these import names (to mount read-only)."""
    dirs = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise SandboxUnavailable(f"the package {name!r} that student code needs is not "
                                     "installed")
        dirs += [str(Path(p).resolve()) for p in spec.submodule_search_locations]
    return dirs


def _bwrap_prefix(exe, sandbox_dir, mounts=(), disk_mb=None):
    """The bwrap command line. With `disk_mb`, everything student code may write (work/,
    home/, tmp/ and /tmp) is one tmpfs of that size, into which the worker copies the
    submission (read-only at /sandbox/.in) before it drops its privileges."""
    cmd = [exe, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
           "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
           "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_CHOWN",
           "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
           "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for name in ("bin", "lib", "lib64", "sbin", "lib32"):
        path = Path("/") / name
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), str(path)]
    binds = sorted({str(Path(sys.base_prefix).resolve()), sys.prefix, *package_dirs(mounts)})
    # bwrap makes the missing parents of a mount point mode 0700, which the unprivileged
    # uid could not cross.
    parents = sorted({str(p) for b in binds for p in Path(b).parents if str(p) != "/"})
    for path in parents:
        cmd += ["--perms", "0755", "--dir", path]
    for path in binds:
        cmd += ["--ro-bind", path, path]
    if disk_mb is None:
        cmd += ["--tmpfs", "/tmp", "--bind", sandbox_dir, "/sandbox"]
    else:
        cmd += ["--perms", "0755", "--size", str(int(disk_mb) * 2**20), "--tmpfs", "/sandbox",
                "--ro-bind", str(Path(sandbox_dir) / "work"), "/sandbox/.in"]
        for sub in STAGED:
            cmd += ["--perms", "0700", "--dir", f"/sandbox/{sub}"]
        if not any(b == "/tmp" or b.startswith("/tmp/") for b in binds):
            # (a Python or venv under /tmp has made /tmp a folder of mount points already;
            # then only TMPDIR points into the quota)
            cmd += ["--symlink", "/sandbox/tmp", "/tmp"]
    cmd += ["--ro-bind", str(WORKER), "/opt/worker.py", "--chdir", "/sandbox/work"]
    return cmd


def _private_uid(slot=0):
    """The uid the worker drops to, or None when the grader is not root: two per grading
    process (`slot` 0 or 1), so that a spare sandbox never shares its uid with the one at
    work."""
    return BASE_UID + 2 * os.getpid() + slot if os.getuid() == 0 else None


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


def _private_dir(uid):
    """A fresh private folder: work/ (empty until `_fill`), home/ and tmp/."""
    tmp = tempdirs.make("sandbox")
    for sub in ("work", "home", "tmp"):
        (Path(tmp) / sub).mkdir()
    _give(tmp, uid)
    return tmp


def _fill(tmp, files_dir, uid):
    """Copy the submission's regular files into work/ (seen by a started sandbox too: it
    mounts the folder, not its contents)."""
    if files_dir is not None:
        copy_regular(files_dir, Path(tmp) / "work")
        _give(Path(tmp) / "work", uid)


def _give(top, uid):
    if uid is not None:
        for dirpath, dirnames, filenames in os.walk(top):
            for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                os.lchown(name, uid, uid)


def _environment(inside):
    env = {"PATH": f"{sys.prefix}/bin:/usr/bin:/bin", "HOME": f"{inside}/home",
           "TMPDIR": f"{inside}/tmp", "IPYTHONDIR": f"{inside}/home/.ipython",
           "MPLCONFIGDIR": f"{inside}/home/.mpl", "MPLBACKEND": "Agg", "LANG": "C.UTF-8",
           "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:  # correctness settings of this machine's OpenBLAS
            env[key] = os.environ[key]
    return env


def _dead(status):
    return {"status": status, "outputs": [], "line": None, "altered": []}


class _Session:
    """One worker process and the conversation with it, cell by cell."""

    def __init__(self, mode, timeout, memory_mb, mounts=(), disk_mb=DISK_MB, slot=0):
        self.mode, self.timeout, self.slot = mode, timeout, slot
        self.keep = frozenset()
        if mode in UNCONTAINED:
            _become_subreaper()
            self.keep = frozenset(_children())  # this process's own children stay alive
        self.uid = _private_uid(slot)
        self.tmp = _private_dir(self.uid)
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        python = os.path.join(sys.prefix, "bin", "python")
        if mode == "bwrap":
            self.stage = "/sandbox/.in"
            cmd = _bwrap_prefix(shutil.which("bwrap"), self.tmp, mounts, disk_mb) + [
                python, "-I", "/opt/worker.py", str(in_r), str(out_w)]
            cwd, inside = None, "/sandbox"
        else:
            self.stage = None
            cmd = [python, "-I", str(WORKER), str(in_r), str(out_w)]
            cwd, inside = str(Path(self.tmp) / "work"), self.tmp
        self.notebook_limit = 10 * timeout
        self.proc = subprocess.Popen(
            cmd, pass_fds=(in_r, out_w), env=_environment(inside), cwd=cwd,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=_limits(memory_mb, int(self.notebook_limit) + 30))
        os.close(in_r)
        os.close(out_w)
        self.send_fd, self.lines = in_w, _Lines(out_r)
        self.start = None

    def send(self, obj):
        data = (json.dumps(obj) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self.send_fd, data):]

    def open(self, files_dir, max_output):
        _fill(self.tmp, files_dir, self.uid)
        setup = {"uid": self.uid, "timeout": self.timeout, "max_output": max_output}
        if self.stage:
            setup["stage"] = [self.stage, "/sandbox/work", [f"/sandbox/{d}" for d in STAGED]]
        self.send({"setup": setup})
        state, msg = self.lines.read(time.monotonic() + STARTUP)
        if state != "ok" or not msg.get("ready"):
            err = self.proc.stderr.read1(4000).decode(errors="replace") if state == "eof" else ""
            raise RuntimeError(f"sandboxed worker did not start ({state}) {err}")
        self.start = time.monotonic()

    def run(self, i, cell, events):
        """(result of cell i, whether the worker lives on); a dead worker is stopped."""
        token = secrets.token_hex(16)
        msg = {"cell": i, "token": token, "source": cell["source"]}
        if cell.get("test"):
            msg.update(test=True, **(cell.get("prepared") or prepare(cell["source"])))
        self.send(msg)
        deadline = min(time.monotonic() + self.timeout + GRACE, self.start + self.notebook_limit)
        state, reply = self.lines.read(deadline)
        # A line that is not the answer to this cell, with this cell's token, was written by
        # the student's code into the pipe: nothing from this worker is trusted any more.
        if state == "ok" and (reply.get("cell") != i or reply.get("token") != token):
            events.append("protocol violation")
            state = "garbage"
        if state == "ok":
            return {"status": reply.get("status", "error"), "outputs": reply.get("outputs", []),
                    "line": reply.get("line"), "altered": reply.get("altered", [])}, True
        if state == "timeout":
            late = time.monotonic() >= self.start + self.notebook_limit
            events.append("notebook timeout" if late else "cell timeout (killed)")
        self.stop()
        return _dead({"timeout": "timeout", "eof": "crashed"}.get(state, "tampered")), False

    def stop(self):
        _stop(self.proc, self.uid, self.keep, self.mode)

    def close(self):
        self.stop()
        for fd in (self.send_fd, self.lines.fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc.stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_cells(files_dir, cells, *, timeout=30.0, memory_mb=2048, max_output=200_000,
              mode=None, mounts=(), disk_mb=DISK_MB, spare=True):
    """Run `cells` (dicts with 'source', 'test' and, for tests, optionally 'prepared' from
    `autograder.testcell.prepare`) in a fresh sandboxed worker.

    files_dir : folder whose regular files are copied into the worker's working directory
        (the student's submission folder), or None.
    mode : 'bwrap' or 'none' (default: `sandbox_mode()`); refused if it cannot run here.
    mounts : import names of packages shown read-only to student code (e.g. a course's
        student package); nothing else of the grader's environment but Python is.
    disk_mb : the size of everything the notebook may write (bwrap only); a write past it
        fails and the cell's status is 'disk'.
    spare : start the next notebook's sandbox (bwrap only) while this one runs; each
        sandbox still serves one notebook only.
    Returns (results, events): one dict per cell with 'status' in ok, error, timeout,
    memory, crashed, tampered, the captured 'outputs', the failing 'line' and 'altered' (what
    the student's code had changed that the worker watches); events is a list of strings
    about the run as a whole (e.g. 'notebook timeout', 'protocol violation').
    """
    mode = mode or sandbox_mode()
    check_mode(mode, mounts=mounts)
    kind = (mode, timeout, memory_mb, tuple(mounts), disk_mb)
    session = _SPARE.take(kind) or _Session(*kind)
    results, events = [], []
    try:
        session.open(files_dir, max_output)
        if spare and mode == "bwrap":
            _SPARE.start(kind, slot=1 - session.slot)
        for i, cell in enumerate(cells):
            result, alive = session.run(i, cell, events)
            results.append(result)
            if not alive:
                results += [_dead(result["status"]) for _ in cells[i + 1:]]
                break
        else:
            try:
                session.send({"end": True})
            except OSError:
                pass
    except BrokenPipeError:
        events.append("worker died")
        results += [_dead("crashed") for _ in cells[len(results):]]
    finally:
        session.close()
    return results, events


class _Spare:
    """At most one sandbox per grading process started ahead of its notebook: its worker
    loads IPython while the current notebook runs, and receives its files and its setup
    only when `take`n. Only in bwrap mode: without namespaces, a session stops every child
    that it did not find at its start, which a spare started later would be."""

    def __init__(self):
        self.kind, self.session, self.registered = None, None, False

    def take(self, kind):
        session, self.session = self.session, None
        if session is not None and (self.kind != kind or session.proc.poll() is not None):
            session.close()
            session = None
        return session

    def start(self, kind, slot):
        if not self.registered:
            # (a pool worker leaves through os._exit, which skips atexit but not Finalize)
            Finalize(self, self.close, exitpriority=10)
            atexit.register(self.close)
            self.registered = True
        self.close()
        self.kind, self.session = kind, _Session(*kind, slot=slot)

    def close(self):
        if self.session is not None:
            self.session.close()
            self.session = None


_SPARE = _Spare()


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


def _stop(proc, uid, keep=frozenset(), mode="bwrap"):
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
    if mode in UNCONTAINED:
        _reap_children(keep=keep)
