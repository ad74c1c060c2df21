"""One writer per output, and output sets that a kill leaves whole old or (after the next start) whole new."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import exact._atomic_output as atomic_output
from exact._atomic_output import OutputLocked, exclusive_lock, publish_together, recover

ROOT = Path(__file__).resolve().parents[1]  # the repository root (this file is tests/test_atomic_output.py)


def hold_lock_in_subprocess(path: Path) -> subprocess.Popen:
    code = f"import sys, time\nfrom exact._atomic_output import exclusive_lock\nwith exclusive_lock({str(path)!r}):\n    print('locked', flush=True)\n    time.sleep(60)\n"
    holder = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_writer_is_refused_at_once_and_a_killed_holder_frees_the_lock(tmp_path):
    target = tmp_path / "teacher.jsonl"
    holder = hold_lock_in_subprocess(target)
    try:
        start = time.monotonic()
        with pytest.raises(OutputLocked, match=f"pid {holder.pid}.*another output"):
            with exclusive_lock(target):
                pass
        assert time.monotonic() - start < 10.0  # at once (a blocking lock would wait for the holder: forever)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with exclusive_lock(target):  # the kernel dropped the dead holder's lock
        pass
    assert list(tmp_path.iterdir()) == []  # the lock file goes with the lock


def write_set(directory: Path, tag: str, version: int, as_directory: bool) -> None:
    """A set of three entries whose every byte says ``version`` (as files, or as one folder holding them)."""
    with publish_together(directory, tag) as staging:
        folder = staging / tag if as_directory else staging
        folder.mkdir(exist_ok=True)
        for name in ("a.bin", "b.bin", "c.json"):
            (folder / f"{tag}_{name}").write_bytes(str(version).encode() * 50_000)


def versions(directory: Path, tag: str, as_directory: bool) -> set:
    folder = directory / tag if as_directory else directory
    return {path.read_bytes()[:1] for path in sorted(folder.iterdir()) if not path.name.startswith(".")}


@pytest.mark.parametrize("as_directory", [False, True], ids=["files", "directory"])
def test_a_crash_between_entries_is_completed_by_the_next_start(tmp_path, monkeypatch, as_directory):
    write_set(tmp_path, "fig", 1, as_directory)
    real_replace, calls = os.replace, []

    def crash_after_the_first_entry(source, target):
        calls.append(target)
        if len(calls) == (1 if as_directory else 2):  # files: one moved; folder: the old one moved away
            raise KeyboardInterrupt  # the process dies here: the set is committed but half moved
        real_replace(source, target)

    monkeypatch.setattr(atomic_output.os, "replace", crash_after_the_first_entry)
    with pytest.raises(KeyboardInterrupt):
        write_set(tmp_path, "fig", 2, as_directory)
    monkeypatch.setattr(atomic_output.os, "replace", real_replace)
    recover(tmp_path, "fig")  # what the next start does
    assert versions(tmp_path, "fig", as_directory) == {b"2"}
    assert not [p for p in tmp_path.rglob(".*")]


def test_a_failure_before_the_commit_keeps_the_old_set_and_leaves_nothing(tmp_path):
    write_set(tmp_path, "fig", 1, False)
    with pytest.raises(RuntimeError):
        with publish_together(tmp_path, "fig") as staging:
            (staging / "fig_a.bin").write_bytes(b"2")
            raise RuntimeError("plot failed")
    assert versions(tmp_path, "fig", False) == {b"1"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


WRITER = """
import sys, itertools
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.test_atomic_output import write_set
for version in itertools.cycle(range(2, 10)):
    write_set(Path({directory!r}), "fig", version, {as_directory})
    if version == 2:
        print("writing", flush=True)
"""


@pytest.mark.parametrize("as_directory", [False, True], ids=["figure files", "adapter folder"])
def test_kills_at_random_moments_leave_one_whole_set(tmp_path, as_directory):
    rng = random.Random(19)
    write_set(tmp_path, "fig", 1, as_directory)
    for trial in range(4):
        code = WRITER.format(root=str(ROOT), directory=str(tmp_path), as_directory=as_directory)
        writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, stdout=subprocess.PIPE)
        assert writer.stdout.readline() == b"writing\n"
        time.sleep(rng.random() * 0.3)  # while it keeps publishing sets 3, 4, ...
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        recover(tmp_path, "fig")
        assert len(versions(tmp_path, "fig", as_directory)) == 1, f"trial {trial}: a mixed set"
        assert not [p for p in tmp_path.rglob(".*")], f"trial {trial}: temporary files left"
