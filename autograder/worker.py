"""The process that runs one student's notebook inside the sandbox.

It is started by `autograder.sandbox` as ``python worker.py IN_FD OUT_FD`` and must stay
standalone: it is bound alone into the sandbox, which sees neither `autograder` nor rnnlib.
Student cells run through IPython's InteractiveShell in this very process (no ZMQ kernel,
which is most of what makes stock nbgrader slow); test cells run through the worker's own
executor, so that nothing a student cell did to IPython decides whether a test passed.

Protocol (one JSON object per line):
  grader -> worker  {"setup": {"uid": int|None, "timeout": float, "max_output": int,
                               "stage": [from, to, [folders to give to uid]] (optional)}}
                    {"cell": i, "token": str, "source": str}               a student cell
                    {"cell": i, "token": str, "test": true, "exec": str, "eval": str|None,
                     "builtins": [name, ...]}                              a test cell
                    {"end": true}
  worker -> grader  {"ready": true}
                    {"cell": i, "token": str, "status": "ok"|"error"|"timeout"|"memory"|
                     "disk"|"tampered", "outputs": [...], "line": int|None,
                     "altered": [str, ...]}
The grader sends cell i+1 only after it has read the answer to cell i, so a student's cell
never sees the test cells that come after it, and it checks every answer's cell number and
token, so a line the student's code writes into the pipe is caught as a forgery.

The threat model (docs/grader.md, "Pass or fail") is why the code looks the way it does:
everything on the path from a test cell to its verdict is captured before the first student
cell runs. `_sealed` re-binds every function of this module to a private copy of its globals
whose builtins are a frozen copy, and the functions call only C-level primitives captured at
import (`_exec`, `_write`, `_scan`...), so rebinding a name in this module, in `builtins`, in
`json`, `os` or `sys`, or on IPython's classes changes nothing here.
"""

import builtins
import errno
import json.encoder
import json.scanner
import os
import signal
import sys
import threading
import types

# ------------------------------------------------- primitives, captured before student code

_exec, _eval, _compile, _repr, _str = exec, eval, compile, repr, str
_isinstance, _type, _len, _range, _sorted = isinstance, type, len, range, sorted
_dict_items, _str_join, _int_repr, _float_repr = dict.items, str.join, int.__repr__, float.__repr__
_write, _read, _exit, _dup2, _open, _devnull = os.write, os.read, os._exit, os.dup2, os.open, \
    os.devnull
_settrace, _setprofile, _gettrace, _getprofile = sys.settrace, sys.setprofile, sys.gettrace, \
    sys.getprofile
_thread_settrace = threading.settrace
_setitimer, _signal = signal.setitimer, signal.signal
_SIGALRM, _ITIMER_REAL = signal.SIGALRM, signal.ITIMER_REAL
_scan = json.scanner.c_make_scanner(json.JSONDecoder())
_quote = json.encoder.c_encode_basestring_ascii
_sys = sys
_builtins = builtins
_BUILTINS = dict(builtins.__dict__)
_MISSING = object()
_MODULE = globals()  # this module's own namespace (IPython puts the notebook's at __main__)

TEST_FILE = "<test cell>"
#: Audit events of low-level introspection: recorded, since honest notebooks never need them.
_INTROSPECTION = {"gc.get_objects": "gc.get_objects", "gc.get_referrers": "gc.get_referrers",
                  "gc.get_referents": "gc.get_referents", "ctypes.dlsym": "ctypes",
                  "ctypes.cdata": "ctypes", "ctypes.string_at": "ctypes",
                  "sys._current_frames": "sys._current_frames"}


class CellTimeout(BaseException):
    """Raised by SIGALRM inside a cell that ran past its wall-clock limit."""


# --------------------------------------------------------------------------- the channel

def _dumps(obj, depth=0):
    """JSON text of plain data built from C-level parts only (json.dumps is Python code a
    student could patch). Unknown objects become a placeholder, never their own __str__."""
    if depth > 60:
        raise ValueError("output nested too deeply")
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if _isinstance(obj, str):
        return _quote(obj)
    if _isinstance(obj, int):
        return _int_repr(obj)
    if _isinstance(obj, float):
        text = _float_repr(obj)
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}.get(text, text)
    if _isinstance(obj, dict):
        return "{" + _str_join(",", [_quote(k if _isinstance(k, str) else _repr(k)) + ":"
                                     + _dumps(v, depth + 1) for k, v in _dict_items(obj)]) + "}"
    if _isinstance(obj, (list, tuple)):
        return "[" + _str_join(",", [_dumps(v, depth + 1) for v in obj]) + "]"
    return _quote(f"<{_type(obj).__name__} object>")


class _Channel:
    """JSON lines over two pipe file descriptors, with captured os.read/os.write."""

    def __init__(self, in_fd, out_fd):
        self.in_fd, self.out_fd, self.buf = in_fd, out_fd, b""

    def receive(self):
        while b"\n" not in self.buf:
            chunk = _read(self.in_fd, 1 << 20)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return _scan(line.decode("utf-8"), 0)[0]

    def send(self, obj):
        data = (_dumps(obj) + "\n").encode("utf-8")
        while data:
            data = data[_write(self.out_fd, data):]


# ------------------------------------------------------------------------------ the shell

def _make_shell():
    """IPython's InteractiveShell with output captured into a list. Returns (shell, outputs,
    run_cell): run_cell is InteractiveShell.run_cell as it was before any student code."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    outputs = []

    class Hook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            outputs.append({"output_type": "execute_result", "data": format_dict,
                            "metadata": md_dict or {}, "execution_count": self.prompt_count})

        def finish_displayhook(self):
            pass

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False,
                    **kwargs):
            outputs.append({"output_type": "display_data", "data": data,
                            "metadata": metadata or {}})

        def clear_output(self, wait=False):
            outputs.clear()

    class Shell(InteractiveShell):
        def _showtraceback(self, etype, evalue, stb):
            outputs.append({"output_type": "error", "ename": etype.__name__,
                            "evalue": str(evalue), "traceback": list(stb)})

    config = Config()
    config.HistoryManager.enabled = False
    shell = Shell.instance(config=config, displayhook_class=Hook, display_pub_class=Publisher,
                           colors="nocolor")
    return shell, outputs, InteractiveShell.run_cell


class _Stream:
    """sys.stdout / sys.stderr of a cell: appends to the cell's outputs."""

    def __init__(self, name, outputs):
        self.name, self.outputs, self.encoding = name, outputs, "utf-8"

    def write(self, text):
        if not _isinstance(text, str):
            text = _str(text)
        outputs = self.outputs
        if outputs and outputs[-1].get("name") == self.name:
            outputs[-1]["text"] += text
        else:
            outputs.append({"output_type": "stream", "name": self.name, "text": text})
        return _len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass

    def isatty(self):
        return False

    def fileno(self):
        raise OSError("captured stream")


# ------------------------------------------------------------------------------ the guard

class _Guard:
    """What student code may have changed, and the clean state a test cell runs in.

    `changes()` names (once) what differs from the snapshot taken before the first student
    cell; `enter_test`/`leave_test` give a test cell Python's own builtins, no tracer, no
    IPython event hook, and put the student's state back afterwards.
    """

    WATCHED_METHODS = ("showtraceback", "_showtraceback", "showsyntaxerror", "run_cell",
                       "run_cell_async", "run_ast_nodes", "run_code", "transform_cell", "ex",
                       "ev", "safe_execfile")

    def __init__(self, shell, main_globals):
        self.shell, self.ns, self.main = shell, shell.user_ns, main_globals
        self.start_ns = dict(shell.user_ns)
        self.start_main = dict(main_globals)
        self.classes = [(c, n, c.__dict__.get(n, _MISSING)) for c in _type(shell).__mro__[:2]
                        for n in self.WATCHED_METHODS]
        self.hooks = {"sys.excepthook": _sys.excepthook, "sys.displayhook": _sys.displayhook}
        self.shell_attrs = {n: getattr(shell, n) for n in ("displayhook", "display_pub",
                                                           "display_formatter")}
        self.callbacks = {k: list(v) for k, v in _dict_items(shell.events.callbacks)}
        self.reported, self.events = set(), []
        self.saved, self.in_test, self.traced = None, False, False

    def audit(self, event, args):
        # Installed as the process's first audit hook: a RuntimeError here refuses every
        # later hook (a student's audit hook would see the source of every test it compiles).
        if event == "sys.addaudithook":
            self.events.append("sys.addaudithook (refused)")
            raise RuntimeError("audit hooks are not allowed while grading")
        if self.in_test and event in ("sys.settrace", "sys.setprofile"):
            self.traced = True  # whatever it set: a tracer can rewrite a running test
        label = _INTROSPECTION.get(event)
        if label is not None:
            self.events.append(label)

    def _found(self):
        found = [f"builtins.{k}" for k, v in _dict_items(_BUILTINS)
                 if _builtins.__dict__.get(k, _MISSING) is not v]
        found += [f"{c.__name__}.{n}" for c, n, v in self.classes
                  if c.__dict__.get(n, _MISSING) is not v]
        found += [name for name, v in _dict_items(self.hooks)
                  if getattr(_sys, name.split(".")[1], None) is not v]
        found += [f"the shell's {n}" for n, v in _dict_items(self.shell_attrs)
                  if getattr(self.shell, n, None) is not v]
        if "showtraceback" in self.shell.__dict__:
            found.append("the shell's showtraceback")
        if {k: list(v) for k, v in _dict_items(self.shell.events.callbacks)} != self.callbacks:
            found.append("IPython event hooks")
        if self.shell.ast_transformers or self.shell.input_transformers_post:
            found.append("IPython input or AST transformers")
        if _gettrace() is not None or _getprofile() is not None:
            found.append("sys.settrace/setprofile (a tracer)")
        found += [f"the grader's worker ({k})" for k, v in _dict_items(self.start_main)
                  if self.main.get(k, _MISSING) is not v]
        found += self.events
        return found

    def changes(self):
        new = [f for f in self._found() if f not in self.reported]
        self.reported.update(new)
        self.events = []
        return _sorted(new)

    def enter_test(self, names):
        """Clean state for a test cell that refers to the builtin `names` (those the
        instructors' notebook does not define itself)."""
        current = _builtins.__dict__
        saved_builtins = dict(current)
        for k in [k for k in current if k not in _BUILTINS]:
            del current[k]
        current.update(_BUILTINS)
        shadows = {}
        for name in names:
            value = self.ns.get(name, _MISSING)
            base = self.start_ns.get(name, _MISSING)
            if value is not base:
                shadows[name] = value
                if base is _MISSING:
                    del self.ns[name]
                else:
                    self.ns[name] = base
        dunder = self.ns.get("__builtins__", _MISSING)
        self.ns["__builtins__"] = _builtins
        events = {k: list(v) for k, v in _dict_items(self.shell.events.callbacks)}
        for v in self.shell.events.callbacks.values():
            v.clear()
        _settrace(None)
        _setprofile(None)
        _thread_settrace(None)
        self.saved = (saved_builtins, shadows, dunder, events)
        self.in_test, self.traced = True, False
        return [n for n, v in _dict_items(shadows) if v is not _MISSING]

    def leave_test(self):
        """Put the student's state back; returns whether a tracer was set during the test."""
        traced = self.traced or _gettrace() is not None or _getprofile() is not None
        self.in_test = False
        if traced:
            self.events.append("a tracer set during a test")
        saved_builtins, shadows, dunder, events = self.saved
        current = _builtins.__dict__
        for k in [k for k in current if k not in saved_builtins]:
            del current[k]
        current.update(saved_builtins)
        for name, value in _dict_items(shadows):
            if self.ns.get(name, _MISSING) is self.start_ns.get(name, _MISSING):
                if value is _MISSING:
                    self.ns.pop(name, None)
                else:
                    self.ns[name] = value  # the test did not rebind it: the student's again
        if dunder is not _MISSING:
            self.ns["__builtins__"] = dunder
        for k, v in _dict_items(events):
            self.shell.events.callbacks[k][:] = v
        self.saved = None
        return traced


# ---------------------------------------------------------------------------- running cells

def _limit(text, max_chars):
    if _len(text) <= max_chars:
        return text
    return text[:max_chars] + f"\n[... output cut at {max_chars} characters]\n"


_DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _status(exc):
    if exc is None:
        return "ok"
    if _isinstance(exc, CellTimeout):
        return "timeout"
    if _isinstance(exc, MemoryError):
        return "memory"
    if _isinstance(exc, OSError) and exc.errno in _DISK_ERRORS:
        return "disk"
    return "error"


def _safe_text(obj):
    try:
        return _str(obj)
    except BaseException:
        return f"<{_type(obj).__name__} object>"


def _error_output(exc, line):
    name = _type(exc).__name__
    where = [f'  File "{TEST_FILE}", line {line}'] if line else []
    value = _safe_text(exc)
    return {"output_type": "error", "ename": name, "evalue": value,
            "traceback": ["Traceback (most recent call last):", *where, f"{name}: {value}"]}


def _test_line(exc):
    """The line of the test cell (not of a function it called) where `exc` surfaced."""
    if _isinstance(exc, SyntaxError):
        return exc.lineno if exc.filename == TEST_FILE else None
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == TEST_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _cell_line(exc, user_ns):
    """The line of a student cell where `exc` surfaced (SyntaxErrors: their own line)."""
    if _isinstance(exc, SyntaxError) and exc.lineno:
        return exc.lineno
    tb, line = exc.__traceback__, None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "<module>" and frame.f_globals is user_ns:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _forget(exc):
    # Drop the failed cell's frames (they keep whatever a memory bomb allocated alive).
    tb = exc.__traceback__
    while tb is not None:
        try:
            tb.tb_frame.clear()
        except RuntimeError:
            pass
        tb = tb.tb_next
    _sys.last_type = _sys.last_value = _sys.last_traceback = None


class _Runner:
    """Runs one cell at a time with a wall-clock alarm and captured output."""

    def __init__(self, shell, outputs, run_cell, guard, timeout, max_output):
        self.shell, self.outputs, self.run_cell, self.guard = shell, outputs, run_cell, guard
        self.ns = shell.user_ns
        self.timeout, self.max_output = timeout, max_output
        self.streams = (_Stream("stdout", outputs), _Stream("stderr", outputs))

    def _arm(self):
        def on_alarm(signum, frame):
            raise CellTimeout(f"cell ran past its {self.timeout:g} s limit")

        self.outputs.clear()
        _sys.stdout, _sys.stderr = self.streams
        _signal(_SIGALRM, on_alarm)
        _setitimer(_ITIMER_REAL, self.timeout)

    def _disarm(self):
        _setitimer(_ITIMER_REAL, 0)
        _sys.stdout, _sys.stderr = _sys.__stdout__, _sys.__stderr__

    def student(self, msg):
        self._arm()
        result = exc = None
        try:
            result = self.run_cell(self.shell, msg["source"], store_history=True)
            exc = result.error_in_exec or result.error_before_exec
        except CellTimeout as e:
            exc = e
            self.outputs.append({"output_type": "error", "ename": "CellTimeout",
                                 "evalue": _str(e), "traceback": []})
        except BaseException as e:  # e.g. MemoryError inside IPython's own machinery
            exc = e
            self.outputs.append({"output_type": "error", "ename": _type(e).__name__,
                                 "evalue": "", "traceback": []})
        finally:
            self._disarm()
        status = _status(exc)
        line = _cell_line(exc, self.ns) if exc is not None else None
        if exc is not None:
            _forget(exc)
            self.shell.last_execution_result = None
        return self._reply(msg, status, line)

    def test(self, msg):
        unshadowed = self.guard.enter_test(msg.get("builtins") or [])
        self._arm()
        exc = value = None
        try:
            _exec(_compile(msg["exec"], TEST_FILE, "exec", dont_inherit=True), self.ns)
            if msg.get("eval") is not None:
                value = _eval(_compile(msg["eval"], TEST_FILE, "eval", dont_inherit=True),
                              self.ns)
        except BaseException as e:
            exc = e
        finally:
            self._disarm()
        traced = self.guard.leave_test()
        status = "tampered" if traced else _status(exc)
        line = None
        # Only the value of the cell's last expression is the cell's result (nbgrader's
        # partial credit); an execute_result a called function produced is not.
        kept = [o for o in self.outputs if o.get("output_type") != "execute_result"]
        self.outputs[:] = kept
        if exc is not None:
            line = _test_line(exc)
            self.outputs.append(_error_output(exc, line))
            _forget(exc)
        elif value is not None:
            self.outputs.append({"output_type": "execute_result",
                                 "data": {"text/plain": _safe_repr(value)}, "metadata": {},
                                 "execution_count": None})
        exc = value = None
        reply = self._reply(msg, status, line)
        if unshadowed:
            reply["altered"] = _sorted(set(reply["altered"]) | {
                f"the name {n}, which the test used as Python's own" for n in unshadowed})
        return reply

    def _reply(self, msg, status, line):
        for out in self.outputs:
            if out.get("output_type") == "stream":
                out["text"] = _limit(out["text"], self.max_output)
        return {"cell": msg["cell"], "token": msg["token"], "status": status,
                "outputs": self.outputs, "line": line, "altered": self.guard.changes()}


def _safe_repr(value):
    try:
        return _repr(value)
    except BaseException:
        return f"<{_type(value).__name__} object>"


def _stage(stage, uid):
    """Copy the submission into the sandbox's size-limited tmpfs and give its writable
    folders to `uid` (still as root, before any student code)."""
    import shutil

    src, dest, folders = stage
    shutil.copytree(src, dest, dirs_exist_ok=True, symlinks=False)
    if uid is None or os.getuid() != 0:
        return
    for top in folders:
        os.chown(top, uid, uid)
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                os.lchown(os.path.join(dirpath, name), uid, uid)


def _drop_privileges(uid):
    # Root inside a bwrap sandbox started without a user namespace (or a grader running as
    # root without one): become an unprivileged uid that owns nothing, so RLIMIT_NPROC counts
    # (root is exempt from it) and no file outside the private work dir is writable.
    if uid is None or os.getuid() != 0:
        return
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def main():
    channel = _Channel(int(_sys.argv[1]), int(_sys.argv[2]))
    os.set_inheritable(channel.in_fd, False)
    os.set_inheritable(channel.out_fd, False)
    # IPython loads before the notebook is known, so that a sandbox started ahead of its
    # notebook (see sandbox.py's spare) has done most of its start-up when it is needed.
    # Loading a module runs no student code and, in Python's isolated mode, writes nothing.
    import IPython.core.interactiveshell  # noqa: F401
    setup = channel.receive()["setup"]
    if setup.get("stage"):
        _stage(setup["stage"], setup.get("uid"))
    _drop_privileges(setup.get("uid"))
    # Past RLIMIT_FSIZE a write fails (EFBIG, status 'disk') instead of killing the worker.
    _signal(signal.SIGXFSZ, signal.SIG_IGN)
    shell, outputs, run_cell = _make_shell()
    guard = _Guard(shell, _MODULE)
    _sys.addaudithook(guard.audit)
    runner = _Runner(shell, outputs, run_cell, guard, float(setup["timeout"]),
                     int(setup.get("max_output", 200_000)))
    # Whatever the student's code writes to the real stdout/stderr (os.write, subprocesses)
    # goes nowhere; Python-level output is captured per cell.
    devnull = _open(_devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        _dup2(devnull, fd)
    channel.send({"ready": True})
    while True:
        msg = channel.receive()
        if msg is None or msg.get("end"):
            break
        reply = runner.test(msg) if msg.get("test") else runner.student(msg)
        try:
            channel.send(reply)
        except (ValueError, RecursionError, MemoryError) as e:  # unserialisable outputs
            reply["outputs"] = []
            reply["note"] = f"outputs dropped: {_type(e).__name__}"
            channel.send(reply)
        outputs.clear()
    _exit(0)


def _sealed(name):
    """`name` from a private copy of this module's globals, with every function of this
    module re-bound to that copy and builtins frozen: student code that rebinds names in
    this module or in `builtins` does not reach the worker."""
    private = dict(globals())
    private["__builtins__"] = dict(_BUILTINS)
    for key, value in list(private.items()):
        if _isinstance(value, types.FunctionType) and value.__globals__ is globals():
            private[key] = types.FunctionType(value.__code__, private, value.__name__,
                                              value.__defaults__, value.__closure__)
        elif _isinstance(value, type) and value.__module__ == __name__:
            for attr, member in list(value.__dict__.items()):
                if _isinstance(member, types.FunctionType):
                    setattr(value, attr, types.FunctionType(
                        member.__code__, private, member.__name__, member.__defaults__,
                        member.__closure__))
    return private[name]


if __name__ == "__main__":
    _sealed("main")()
