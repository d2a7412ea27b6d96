"""The process that runs one student's notebook inside the sandbox.

It is started by `autograder.sandbox` as ``python worker.py IN_FD OUT_FD`` and must stay
standalone: it is bound alone into the sandbox, which sees neither `autograder` nor rnnlib.
It runs the cells with IPython's InteractiveShell in this very process (no ZMQ kernel, which
is most of what makes stock nbgrader slow) and answers one JSON line per cell.

Protocol (one JSON object per line):
  grader -> worker  {"setup": {"uid": int|None, "timeout": float, "max_output": int}}
                    {"cell": i, "source": str, "test": bool}   (one at a time)
                    {"end": true}
  worker -> grader  {"ready": true}
                    {"cell": i, "status": "ok"|"error"|"timeout"|"memory", "outputs": [...],
                     "line": int|None}
The grader sends cell i+1 only after it has read the answer to cell i, so a student's cell
never sees the test cells that come after it.
"""

import json
import linecache
import os
import signal
import sys
import threading
import traceback


class CellTimeout(BaseException):
    """Raised by SIGALRM inside a cell that ran past its wall-clock limit."""


def _drop_privileges(uid):
    # Root inside a bwrap sandbox started without a user namespace: become an unprivileged
    # uid that owns nothing, so RLIMIT_NPROC counts (root is exempt from it) and no file
    # outside the private work dir is writable.
    if uid is None or os.getuid() != 0:
        return
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _limit(text, max_chars):
    if len(text) <= max_chars:
        return text
    return text[:max_chars] + f"\n[... output cut at {max_chars} characters]\n"


def main():
    in_fd, out_fd = int(sys.argv[1]), int(sys.argv[2])
    reader = os.fdopen(in_fd, "r", encoding="utf-8")
    writer = os.fdopen(out_fd, "w", encoding="utf-8")
    os.set_inheritable(in_fd, False)
    os.set_inheritable(out_fd, False)
    setup = json.loads(reader.readline())["setup"]
    _drop_privileges(setup.get("uid"))
    max_output = int(setup.get("max_output", 200_000))
    timeout = float(setup["timeout"])

    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    outputs = []

    class Stream:
        def __init__(self, name):
            self.name = name
            self.encoding = "utf-8"

        def write(self, text):
            if not isinstance(text, str):
                text = str(text)
            if outputs and outputs[-1].get("name") == self.name:
                outputs[-1]["text"] += text
            else:
                outputs.append({"output_type": "stream", "name": self.name, "text": text})
            return len(text)

        def writelines(self, lines):
            for line in lines:
                self.write(line)

        def flush(self):
            pass

        def isatty(self):
            return False

        def fileno(self):
            raise OSError("captured stream")

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

    errors = []

    class Shell(InteractiveShell):
        def _showtraceback(self, etype, evalue, stb):
            errors.append(evalue)
            outputs.append({"output_type": "error", "ename": etype.__name__,
                            "evalue": str(evalue), "traceback": list(stb)})

    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = Shell.instance(config=config, displayhook_class=Hook, display_pub_class=Publisher,
                           colors="nocolor")
    stdout, stderr = Stream("stdout"), Stream("stderr")

    def on_alarm(signum, frame):
        raise CellTimeout(f"cell ran past its {timeout:g} s limit")

    def cell_line(exc):
        # The line of the cell (not of a function it called) where the exception surfaced.
        if isinstance(exc, SyntaxError) and exc.lineno:
            return exc.lineno
        tb, line = exc.__traceback__, None
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code.co_name == "<module>" and frame.f_globals is shell.user_ns:
                line = tb.tb_lineno
            tb = tb.tb_next
        return line

    # Whatever the student's code writes to the real stdout/stderr (os.write, subprocesses)
    # goes nowhere; Python-level output is captured per cell below.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    writer.write(json.dumps({"ready": True}) + "\n")
    writer.flush()
    for raw in reader:
        msg = json.loads(raw)
        if msg.get("end"):
            break
        test = bool(msg.get("test"))
        saved_events = None
        if test:
            # A test cell runs without the student's IPython event hooks and tracers, so
            # they never see its (hidden) source.
            saved_events = {k: list(v) for k, v in shell.events.callbacks.items()}
            for v in shell.events.callbacks.values():
                v.clear()
            sys.settrace(None)
            sys.setprofile(None)
            threading.settrace(None)
        before = set(linecache.cache)
        outputs.clear()
        errors.clear()
        sys.stdout, sys.stderr = stdout, stderr
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        result = None
        try:
            result = shell.run_cell(msg["source"], store_history=not test)
            exc = result.error_in_exec or result.error_before_exec
        except CellTimeout as e:
            exc = e
            outputs.append({"output_type": "error", "ename": "CellTimeout", "evalue": str(e),
                            "traceback": []})
        except BaseException as e:  # e.g. MemoryError inside IPython's own machinery
            exc = e
            outputs.append({"output_type": "error", "ename": type(e).__name__,
                            "evalue": "", "traceback": []})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if exc is None and errors:
            exc = errors[-1]
        if test:
            for key in set(linecache.cache) - before:
                linecache.cache.pop(key, None)
            for k, v in saved_events.items():
                shell.events.callbacks[k][:] = v
            shell.last_execution_result = None  # its .info.raw_cell is the hidden source
        if exc is None:
            status = "ok"
        elif isinstance(exc, CellTimeout):
            status = "timeout"
        elif isinstance(exc, MemoryError):
            status = "memory"
        else:
            status = "error"
        line = cell_line(exc) if exc is not None else None
        # Forget the failed cell's frames (sys.last_traceback and friends keep them, and with
        # them whatever a memory bomb allocated), so the next cell starts clean.
        if exc is not None:
            traceback.clear_frames(exc.__traceback__)
            exc = result = None
            sys.last_type = sys.last_value = sys.last_traceback = None
            shell.last_execution_result = None
        errors.clear()
        for out in outputs:
            if out["output_type"] == "stream":
                out["text"] = _limit(out["text"], max_output)
        try:
            payload = json.dumps({"cell": msg["cell"], "status": status, "outputs": outputs,
                                  "line": line}, default=str)
        except BaseException as e:  # unserialisable display data or no memory left
            payload = json.dumps({"cell": msg["cell"], "status": status, "outputs": [],
                                  "line": line, "note": f"outputs dropped: {type(e).__name__}"})
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        writer.write(payload + "\n")
        writer.flush()
    writer.close()
    os._exit(0)


if __name__ == "__main__":
    main()
