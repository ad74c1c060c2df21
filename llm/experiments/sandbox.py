"""An OS-level sandbox for untrusted Python: bubblewrap namespaces, an unprivileged uid, rlimits.

Model-written code (HumanEval completions) never runs in this process nor
with this process's rights.  :func:`start` runs a Python source in a fresh
interpreter (``python -I -S``) inside ``bwrap`` (Debian/PyPI-free:
``apt-get install bubblewrap``) with

* new network, pid, IPC, UTS and cgroup namespaces: no network at all (not
  even the host's loopback), and only the sandbox's own processes in ``/proc``
  (the parent's ``/proc/PID/environ`` does not exist there);
* an unprivileged uid: as root, a fresh random uid per sandbox through
  ``setpriv`` (no capabilities, ``no_new_privs``), so process counts and
  signals are never shared with anything else; as a normal user, bwrap's user
  namespace with that user's own uid;
* a read-only view of ``/usr`` and the interpreter only (not the project, not
  ``/root``, not ``/home``), a clean environment, and one writable place: a
  fresh ``tmpfs`` at ``/tmp`` (also the working directory) of at most
  :attr:`Limits.disk_bytes` in total, gone with the sandbox;
* rlimits (``prlimit``): no new processes or threads (``RLIMIT_NPROC``),
  address space, CPU seconds, file size, open files, no core dumps;
* a kill that reaches everything: the sandbox's pid-1 is SIGKILLed, which makes
  the kernel kill every process of its pid namespace before it is reaped, so
  nothing outlives :func:`start`'s ``with`` block.

If ``bwrap``, ``setpriv`` or ``prlimit`` is missing, or the sandbox cannot be
set up (e.g. no namespaces), :func:`require_sandbox` raises ``RuntimeError``
saying how to install it: there is no silent fallback to running code
unconfined.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

__all__ = ["Limits", "SandboxResult", "require_sandbox", "run", "start"]

INSTALL_HINT = "install it with: apt-get update && apt-get install -y bubblewrap (or `make install`, which does)"
_TOOLS = ("bwrap", "setpriv", "prlimit")
_PROGRAM = "/program.py"  # where the source appears inside the sandbox (read-only)
_START_TIMEOUT = 60.0  # seconds for bwrap and the interpreter to come up (two busy cores: generous)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed interpreter."""

    cpu_seconds: int = 10  # RLIMIT_CPU of the interpreter
    memory_bytes: int = 1 << 30  # RLIMIT_AS (address space, not resident memory)
    disk_bytes: int = 16 << 20  # size of the /tmp tmpfs, all files together; also RLIMIT_FSIZE
    output_bytes: int = 1 << 20  # stdout/stderr kept by the parent; also caps what the sandbox may write
    open_files: int = 64  # RLIMIT_NOFILE


@dataclass(frozen=True)
class SandboxResult:
    """How a sandboxed run ended: exit status (negative: killed by that signal), its stdout (capped), timeout."""

    returncode: int
    stdout: bytes
    timed_out: bool


def _tool_paths() -> dict[str, str]:
    paths = {tool: shutil.which(tool) for tool in _TOOLS}
    missing = [tool for tool, path in paths.items() if path is None]
    if missing:
        raise RuntimeError(f"refusing to run generated code: the sandbox needs {', '.join(missing)}; {INSTALL_HINT}")
    return paths


def _system_binds() -> list[str]:
    """bwrap arguments for a read-only /usr, the top-level links into it, and the interpreter's own prefix."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    prefix = os.path.realpath(sys.base_prefix)
    if prefix != "/usr" and not prefix.startswith("/usr/"):
        args += ["--ro-bind", prefix, prefix]
        parent = os.path.dirname(prefix)
        while parent != "/":  # bwrap copies the host's modes (e.g. a 0700 /root) onto the directories it creates
            args += ["--chmod", "0755", parent]
            parent = os.path.dirname(parent)
    return args


def _command(limits: Limits, program_fd: int, info_fd: int) -> list[str]:
    paths = _tool_paths()
    args = [paths["bwrap"], "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() != 0:
        args.append("--unshare-user")
    args += ["--die-with-parent", "--new-session", "--info-fd", str(info_fd)]
    args += _system_binds()
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(limits.disk_bytes), "--tmpfs", "/tmp"]
    args += ["--perms", "0444", "--ro-bind-data", str(program_fd), _PROGRAM, "--chdir", "/tmp"]
    args += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "PYTHONHASHSEED", "0"]
    args.append("--")
    if os.geteuid() == 0:  # drop to a fresh uid of its own: no capabilities, counts and signals shared with nothing
        uid = str(2**24 + secrets.randbelow(2**30))
        args += [
            paths["setpriv"],
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
        ]
    fsize = min(limits.disk_bytes, limits.output_bytes)
    args += [
        paths["prlimit"],
        "--nproc=1",  # the interpreter itself: no fork, no posix_spawn, no threads
        f"--as={limits.memory_bytes}",
        f"--cpu={limits.cpu_seconds}",
        f"--fsize={fsize}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
        os.path.realpath(sys.executable),
        "-I",
        "-S",
        _PROGRAM,
    ]
    return args


class Sandboxed:
    """A running sandbox: :meth:`wait` for it; the ``with`` block of :func:`start` kills what is left."""

    def __init__(self, process: subprocess.Popen, output, limits: Limits):
        self._process, self._output, self._limits = process, output, limits
        self.child_pid: int | None = None  # the sandbox's pid 1, as the host sees it (from bwrap --info-fd)

    def wait(self, timeout: float) -> SandboxResult:
        """Wait up to ``timeout`` seconds, then kill everything in the sandbox; its exit status and stdout."""
        timed_out = False
        try:
            returncode = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.kill()
            returncode = self._process.returncode
        stdout = b""
        if self._output is not None:
            self._output.seek(0)
            stdout = self._output.read(self._limits.output_bytes)
        return SandboxResult(returncode, stdout, timed_out)

    def kill(self) -> None:
        """SIGKILL the sandbox's pid 1 and wait until bwrap has seen it die, then reap bwrap.

        The kernel kills every process of a pid namespace when its pid 1 dies and
        reports pid 1's death only after they are all gone, so once bwrap has
        exited nothing of the sandbox is left.
        """
        if self._process.poll() is None and self.child_pid is not None:
            _signal(self.child_pid)
            try:
                self._process.wait(_START_TIMEOUT)
            except subprocess.TimeoutExpired:  # pragma: no cover - bwrap itself stuck
                pass
        _signal(self._process.pid)
        self._process.wait()


def _signal(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def start(
    source: str,
    limits: Limits = Limits(),
    pass_fds: tuple[int, ...] = (),
    capture_stdout: bool = True,
) -> Iterator[Sandboxed]:
    """Start ``source`` in a sandbox; on leaving the block every process of the sandbox is dead.

    ``pass_fds`` are descriptors the sandbox inherits under the same numbers
    (pipes to talk to it); stdin is ``/dev/null``; stdout and stderr go
    to one capped, unlinked temporary file that :meth:`Sandboxed.wait` reads
    (stderr only, if not ``capture_stdout``).
    Raises ``RuntimeError`` if the sandbox cannot be set up (never runs
    ``source`` unconfined).
    """
    ready_read, ready_write = os.pipe()
    # our first line, run before the untrusted source: proves the sandbox started, so that a setup
    # failure is an error here, never a silent "the code failed" (the source cannot fake it afterwards)
    source = f"import os as _os; _os.write({ready_write}, b'ready'); _os.close({ready_write}); del _os\n{source}"
    try:
        with tempfile.TemporaryFile() as output, _program_file(source) as program_fd:
            info_read, info_write = os.pipe()
            try:
                process = subprocess.Popen(
                    _command(limits, program_fd, info_write),
                    stdin=subprocess.DEVNULL,
                    stdout=output if capture_stdout else subprocess.DEVNULL,
                    stderr=output,
                    pass_fds=(program_fd, info_write, ready_write, *pass_fds),
                    env={},  # bwrap's own pid 1 keeps its environment: give it none worth reading
                    start_new_session=True,
                )
            finally:
                os.close(info_write)
                os.close(ready_write)
                ready_write = -1
            with os.fdopen(info_read, "rb") as info_stream:
                info = info_stream.read(1 << 16)  # bwrap writes it once it has cloned the sandbox, then closes it
            sandboxed = Sandboxed(process, output if capture_stdout else None, limits)
            try:
                if info.strip():
                    sandboxed.child_pid = json.loads(info)["child-pid"]
                ready = select.select([ready_read], [], [], _START_TIMEOUT)[0] and os.read(ready_read, 5)
                if ready != b"ready":
                    sandboxed.kill()
                    output.seek(0)
                    detail = output.read(4096).decode(errors="replace").strip()
                    raise RuntimeError(
                        f"the sandbox (bwrap) failed to start: {detail or 'no message'}; "
                        f"is bubblewrap installed and working? {INSTALL_HINT}"
                    )
                yield sandboxed
            finally:
                sandboxed.kill()
    finally:
        os.close(ready_read)
        if ready_write >= 0:
            os.close(ready_write)


@contextmanager
def _program_file(source: str) -> Iterator[int]:
    fd = os.memfd_create("program.py", 0)  # not close-on-exec: bwrap copies it into the sandbox
    try:
        os.write(fd, source.encode("utf-8"))
        os.lseek(fd, 0, os.SEEK_SET)
        yield fd
    finally:
        os.close(fd)


def run(source: str, timeout: float = 5.0, limits: Limits | None = None) -> SandboxResult:
    """Run ``source`` in a sandbox for at most ``timeout`` wall-clock seconds (CPU limit ``ceil(timeout) + 1``)."""
    limits = limits or Limits(cpu_seconds=int(timeout) + 1)
    require_sandbox()
    with start(source, limits) as sandboxed:
        return sandboxed.wait(timeout)


@lru_cache(maxsize=1)
def require_sandbox() -> None:
    """Raise ``RuntimeError`` (with the install command) unless a sandboxed interpreter really runs; cached."""
    probe = "import os, sys; print('sandbox-ok', os.getuid(), len(os.listdir('/proc/self/fd')))"
    with start(probe, Limits(cpu_seconds=10)) as sandboxed:
        result = sandboxed.wait(30.0)
    if result.returncode != 0 or not result.stdout.startswith(b"sandbox-ok"):
        raise RuntimeError(
            f"the sandbox does not run Python (exit {result.returncode}): "
            f"{result.stdout.decode(errors='replace').strip()[:500]}; {INSTALL_HINT}"
        )
