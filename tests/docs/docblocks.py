"""Find the runnable code blocks of the documentation, and run them.

A block is runnable when the last non-blank line above its fence is a marker comment
(invisible on the site):

``<!-- test: file NAME -->``
    save the block as ``NAME`` in the page's scratch folder (an app, a module);
``<!-- test: python -->``
    run the block as a Python script there; it must exit 0 within the timeout;
``<!-- test: start -->`` (optionally ``until="TEXT"``)
    start the block's one command in the background and wait until its output shows
    ``TEXT`` (default ``Main ready``: the manager's log line once every server acked),
    and, when it started an inspector, until the inspector listens;
``<!-- test: run -->``
    run a ``console`` block's ``$ `` commands one by one (each must exit 0, and its
    output must match the lines below it, where ``...`` matches anything), or a ``sh``
    block as one bash script;
``<!-- test: stop -->``
    stop the started command with SIGINT: it must exit 0 and leave no process behind
    (a page's last started command is stopped this way at the end of the page too);
    ``<!-- test: stop: exits -->`` only waits, for a command that a block told to stop;
``<!-- test: skip: WHY -->``
    the block is not run (installs from PyPI, needs a terminal, ...); say why.

Blocks of one page run in order in one folder, so a page reads as one session. Ports:
the page's ``8000`` and ``6457`` (the defaults of the app and of the inspector), and
``8001`` (a second app), become free ports in every runnable block, and
``HURTLE_INSPECTOR_PORT`` is set to the inspector's, so pages run in parallel and never
touch the real defaults.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from testkit import alive, children_of, wait_for_exit, wait_until

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

MARKER = re.compile(r"^<!-- test: (?P<kind>file|python|start|run|stop|skip)(?P<rest>.*?)-->\s*$")
FENCE = re.compile(r"^(?P<indent> *)(?P<ticks>`{3,})(?P<lang>[\w-]*)(?P<info>[^`]*)$")
RUNNABLE_LANGS = {"python", "py", "sh", "bash", "console", "shell"}
APP_PORT, OTHER_APP_PORT, INSPECTOR_PORT = "8000", "8001", "6457"
INSPECTOR_STARTED, INSPECTOR_READY = "Started Hurtle-Inspector-0", "Inspector listening on"
COMMAND_TIMEOUT = 60.0
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Block:
    """One fenced code block, and its marker if it has one."""

    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    kind: str | None = None  # the marker's kind, None when unmarked
    arg: str = ""  # the rest of the marker

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced code block (indented ones too), with the marker above it."""
    found = []
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        alone = MARKER.match(lines[index].strip())
        if alone and alone["kind"] == "stop":  # stands alone, between blocks
            found.append(Block(page, index + 1, "", "", "stop", alone["rest"].strip()))
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() != opening["ticks"]:
            end += 1
        indent = len(opening["indent"])
        above = next((ln for ln in reversed(lines[:index]) if ln.strip()), "")
        marker = MARKER.match(above.strip())
        if marker and marker["kind"] == "stop":
            marker = None
        found.append(
            Block(
                page=page,
                line=index + 1,
                lang=opening["lang"],
                code="\n".join(line[indent:] for line in lines[index + 1 : end]) + "\n",
                kind=marker["kind"] if marker else None,
                arg=marker["rest"].strip() if marker else "",
            )
        )
        index = end + 1
    return found


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pattern(expected: str) -> re.Pattern[str]:
    """Expected output as a regex: ``...`` matches anything (also several lines)."""
    lines = [line.rstrip() for line in expected.strip("\n").splitlines()]
    parts = []
    for line in lines:
        if line.strip() == "...":
            parts.append(r"(?:.*\n)*?")
            continue
        parts.append(".*?".join(re.escape(piece) for piece in line.split("...")) + r"[ \t]*\n")
    return re.compile("".join(parts), re.DOTALL)


def output_matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` (trailing spaces ignored) matches ``expected``'s lines."""
    cleaned = "\n".join(line.rstrip() for line in actual.strip("\n").splitlines()) + "\n"
    return pattern(expected).fullmatch(cleaned) is not None


def console_steps(code: str) -> list[tuple[str, str]]:
    """``(command, expected output)`` pairs of a console block (``$ `` starts a command)."""
    steps: list[tuple[str, list[str]]] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"output before the first '$ ' command: {line!r}")
    return [(command, "\n".join(out)) for command, out in steps]


@dataclass
class Started:
    """A command started by a ``start`` block."""

    block: Block
    process: subprocess.Popen[bytes]
    log: Path
    family: set[int] = field(default_factory=set)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class Session:
    """One page's blocks, run in order in one scratch folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ports = {
            default: str(free_port()) for default in (APP_PORT, OTHER_APP_PORT, INSPECTOR_PORT)
        }
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "HURTLE_INSPECTOR_PORT": self.ports[INSPECTOR_PORT],
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
            "COLUMNS": "120",
        }
        self.started: Started | None = None

    def localise(self, text: str) -> str:
        """The page's default ports replaced by this session's free ports."""
        for default, port in self.ports.items():
            text = re.sub(rf"(?<!\d){default}(?!\d)", port, text)
        return text

    def run_block(self, block: Block) -> None:
        code = self.localise(block.code)
        if block.kind == "file":
            name = block.arg.split()[0]
            target = self.folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(code)
        elif block.kind == "python":
            script = self.folder / f"_block_{block.line}.py"
            script.write_text(code)
            self.shell(block, f"python {script.name}", expected=None)
        elif block.kind == "start":
            self.start(block, code)
        elif block.kind == "run":
            if block.lang == "console":
                for command, expected in console_steps(code):
                    self.shell(block, command, expected=expected or None)
            else:
                self.shell(block, "set -euo pipefail\n" + code, expected=None)
        elif block.kind == "stop":
            self.stop(block)

    def shell(self, block: Block, command: str, *, expected: str | None) -> None:
        try:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=self.folder,
                env=self.env,
                capture_output=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{block.where}: {command!r} did not finish in {COMMAND_TIMEOUT} s")
        out = done.stdout.decode(errors="replace")
        err = done.stderr.decode(errors="replace")
        server = (
            f"\n--- the started command's output:\n{self.started.output()}"
            if (self.started)
            else ""
        )
        if done.returncode != 0:
            pytest.fail(
                f"{block.where}: {command!r} exited {done.returncode}\n"
                f"--- stdout:\n{out}\n--- stderr:\n{err}{server}"
            )
        if expected is not None and not output_matches(expected, out):
            pytest.fail(
                f"{block.where}: the output of {command!r} does not match the page\n"
                f"--- expected:\n{expected}\n--- got:\n{out}\n--- stderr:\n{err}"
            )

    def start(self, block: Block, code: str) -> None:
        if self.started:
            self.stop(self.started.block)
        lines = [ln for ln in code.splitlines() if ln.strip()]
        if len(lines) != 1:
            pytest.fail(f"{block.where}: a start block holds exactly one command")
        command = lines[0].removeprefix("$ ")
        until = re.search(r'until="([^"]*)"', block.arg)
        ready = until[1] if until else "Main ready"
        log = self.folder / f"_started_{block.line}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                shlex.split(command),
                cwd=self.folder,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the test's terminal is not its signal
            )
        self.started = Started(block, process, log)

        def is_ready() -> bool:
            if process.poll() is not None:
                pytest.fail(
                    f"{block.where}: {command!r} exited {process.returncode} before "
                    f"{ready!r} appeared:\n{self.started_output()}"
                )
            self.started_family()
            output = self.started_output()
            # The inspector acks on its own, sometimes after the servers: a page's first
            # `hurtle inspect` must meet the inspector, not the main process's stand-in.
            inspector_pending = INSPECTOR_STARTED in output and INSPECTOR_READY not in output
            return ready in output and not inspector_pending

        wait_until(
            is_ready,
            what=lambda: f"{ready!r} in the output of {command!r}:\n{self.started_output()}",
            timeout=READY_TIMEOUT,
        )

    def started_output(self) -> str:
        return self.started.output() if self.started else ""

    def started_family(self) -> None:
        """Remember every descendant of the started command (to check none is left)."""
        if not self.started:
            return
        todo = [self.started.process.pid]
        while todo:
            for child in children_of(todo.pop()):
                if child not in self.started.family:
                    self.started.family.add(child)
                    todo.append(child)

    def stop(self, block: Block) -> None:
        started = self.started
        if not started:
            pytest.fail(f"{block.where}: nothing was started")
        self.started_family()
        self.started = None
        process = started.process
        if block.arg != ": exits":
            process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
        left = wait_for_exit(started.family, timeout=STOP_TIMEOUT)
        for pid in left:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if code != 0 or left:
            pytest.fail(
                f"{started.block.where}: after SIGINT the command exited {code} and left "
                f"{sorted(left) or 'no'} process(es) behind:\n{started.output()}"
            )

    def close(self) -> None:
        """Stop what is still running (after a failure too), by pid."""
        if not self.started:
            return
        started = self.started
        self.started = None
        self.started_family()
        if started.process.poll() is None:
            started.process.send_signal(signal.SIGINT)
            try:
                started.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                started.process.kill()
                started.process.wait()
        for pid in wait_for_exit(started.family, timeout=STOP_TIMEOUT):
            os.kill(pid, signal.SIGKILL)


def runnable_pages() -> Iterator[Path]:
    """Pages of docs/ with at least one block to run."""
    for page in sorted(DOCS.rglob("*.md")):
        if any(b.kind not in (None, "skip") for b in blocks(page)):
            yield page
