"""Output files that concurrent or killed writers cannot corrupt: one writer per output, sets published whole.

Standard library only (``fcntl``, ``os.replace``), shared by ``llm`` (teacher,
evaluation, distillation outputs) and ``figures`` (a figure's image, CSV and
JSON files), so that neither has to import the other; a private module of
``exact`` because that is the installed package both already import, and the
lightest one (it is not part of the exact theory's API).

* :func:`exclusive_lock`: an ``fcntl.flock`` on a hidden lock file next to the
  output (``.NAME.lock``, there only while held); a second writer of the same
  output fails at once with :class:`OutputLocked`, naming the holder's pid.
  The kernel drops the lock when its holder dies, so a killed run never
  blocks the next one (it only leaves the empty lock file).
* :func:`write_atomic`: one file, written beside its target and
  ``os.replace``-d in.
* :func:`publish_together`: several files (or directories) written into a
  staging directory, then published as a set.  The commit point is one
  ``rename`` of the finished staging directory to ``.TAG.ready-*``; after it
  the entries are moved into place, and if a kill interrupts that, the next
  :func:`recover` (run by every :func:`publish_together`) finishes the moves.
  A kill before the commit point leaves the old set; the unfinished staging
  directory is removed at the next start.  So after a kill and a restart
  there is only the whole old or the whole new set, and no temporary file.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["OutputLocked", "exclusive_lock", "publish_together", "recover", "write_atomic"]


class OutputLocked(RuntimeError):
    """Another process is writing this output."""


def lock_path(path: str | Path) -> Path:
    """The lock file of ``path``: ``.NAME.lock`` in the same directory."""
    path = Path(path)
    return path.parent / f".{path.name}.lock"


@contextmanager
def exclusive_lock(path: str | Path) -> Iterator[Path]:
    """Hold the exclusive write lock of ``path`` (its directory is created); :class:`OutputLocked` if it is taken.

    The lock file exists only while held: it is removed before the lock is
    released, and a writer that locked a file already removed tries again.
    """
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        stream = open(lock, "a+")
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.seek(0)
            holder = stream.read(32).strip() or "unknown"
            stream.close()
            raise OutputLocked(
                f"{path} is being written by another process (pid {holder}, lock {lock}); "
                "wait for it to finish or choose another output"
            ) from None
        if _same_file(stream, lock):
            break
        stream.close()  # its holder removed it between our open and our lock: take the new one
    try:
        stream.seek(0)
        stream.truncate()
        stream.write(str(os.getpid()))
        stream.flush()
        yield lock
    finally:
        lock.unlink(missing_ok=True)
        stream.close()  # releases the lock


def _same_file(stream, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(stream.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def write_atomic(path: str | Path, payload: bytes) -> None:
    """Write ``payload`` to a temporary file beside ``path``, then ``os.replace`` it in.

    An existing ``path`` is only ever replaced by a complete new file; on failure the
    temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, _file_mode(path))  # mkstemp makes 0600; give the usual permissions
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise


def _file_mode(path: Path) -> int:
    """The existing file's permissions, else what ``open()`` would give (``0o666`` minus the umask)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextmanager
def publish_together(directory: str | Path, tag: str) -> Iterator[Path]:
    """Yield an empty staging directory; on a clean exit its entries replace ``directory/<entry>`` as one set.

    ``tag`` names the set (a figure's stem, an adapter folder's name): it
    marks the staging directories, which :func:`recover` cleans up or
    completes.  On an exception the staging directory is removed and nothing
    is published.  Hold :func:`exclusive_lock` around it when writers may race.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    recover(directory, tag)
    token = secrets.token_hex(6)
    staging = directory / f".{tag}.staging-{token}"
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    ready = directory / f".{tag}.ready-{token}"
    os.rename(staging, ready)  # the commit point
    _fsync_directory(directory)
    _move_into_place(ready, directory, tag)


def recover(directory: str | Path, tag: str) -> None:
    """Finish a publication of set ``tag`` that a kill interrupted after its commit point; drop unfinished ones."""
    directory = Path(directory)
    for staging in directory.glob(f".{tag}.staging-*"):
        shutil.rmtree(staging, ignore_errors=True)
    for ready in sorted(directory.glob(f".{tag}.ready-*")):
        _move_into_place(ready, directory, tag)
    for old in directory.glob(f".{tag}.old-*"):
        shutil.rmtree(old, ignore_errors=True)


def _move_into_place(ready: Path, directory: Path, tag: str) -> None:
    for entry in sorted(os.listdir(ready)):
        target = directory / entry
        if (ready / entry).is_dir() and target.is_dir():  # a directory cannot be os.replace-d onto a full one
            os.rename(target, directory / f".{tag}.old-{secrets.token_hex(6)}")
        os.replace(ready / entry, target)
    os.rmdir(ready)
    for old in directory.glob(f".{tag}.old-*"):
        shutil.rmtree(old, ignore_errors=True)


def _fsync_directory(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
