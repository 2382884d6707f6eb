"""Start methods: the forkserver's template, what it preloads, and what it must not hold."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from testkit import alive, children_of
from wm_helpers import acked_servers, running, wait_until

from hurtle_worker_manager import UsageError, WorkerManager
from hurtle_worker_manager.start_method import start_template

MAIN = Path(__file__).parent / "support" / "wm_main.py"


def test_an_unknown_start_method_is_refused_with_the_choices() -> None:
    with pytest.raises(UsageError, match=r"start_method='spown': choose one of 'spawn', 'fork'"):
        WorkerManager("wm_targets:server", start_method="spown")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start_method": "spawn", "preload": ["json"]}, "preload only applies to"),
        ({"start_method": "forkserver", "preload": "json"}, "not one string"),
        ({"start_method": "forkserver", "preload": ["no_such_module_x"]}, "no module named"),
        ({"start_method": "forkserver", "preload": ["no_such_pkg_x.sub"]}, "cannot find module"),
        ({"start_method": "forkserver", "preload": [""]}, "is not a module name"),
    ],
)
def test_bad_preloads_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        WorkerManager("wm_targets:server", **kwargs)  # type: ignore[arg-type]


def _probe(start_method: str) -> tuple[list[int], dict[str, object], subprocess.Popen[str]]:
    env = dict(os.environ, PYTHONPATH=str(MAIN.parent))
    proc = subprocess.Popen(
        [sys.executable, str(MAIN), "probe", start_method],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    pids_line, probe_line = proc.stdout.readline(), proc.stdout.readline()
    if not probe_line.startswith("PROBE "):
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"unexpected output {pids_line!r} {probe_line!r}; stderr: {err}")
    pids = [int(pid) for pid in pids_line.split()[1:]]
    return pids, json.loads(probe_line.removeprefix("PROBE ")), proc


def test_forkserver_processes_fork_from_a_template_that_preloaded_the_libraries() -> None:
    pids, probe, proc = _probe("forkserver")
    try:
        main, worker = pids
        assert worker == probe["pid"]
        template = probe["ppid"]
        assert template != main and template in children_of(main), "forked by the template"
        assert probe["preloaded"] is True and probe["preloaded_in"] == template
        with open(f"/proc/{template}/cmdline", "rb") as cmdline:
            assert b"hurtle_worker_manager._template import main" in cmdline.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "STOPPED CLEANLY" in out


def test_spawn_imports_everything_in_the_process_itself() -> None:
    pids, probe, proc = _probe("spawn")
    try:
        assert probe["ppid"] == pids[0]
        assert probe["preloaded"] is False and probe["preloaded_in"] == probe["pid"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_restart_imports_the_edited_code_and_the_current_environment(
    start_method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template holds no application code and no stale environment: a restarted
    process runs the file as it is now, with the main process's environment as it is now."""
    edited = tmp_path / "wm_edited.py"
    edited.write_text('VERSION = "v1"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("WM_TEST_MARK", "before")

    async def scenario() -> None:
        manager = WorkerManager("wm_targets:probe", start_method=start_method)
        async with running(manager):
            probe = manager.workers["Hurtle-Server-0-0"]["probe"]
            assert (probe["version"], probe["mark"]) == ("v1", "before")
            stat = edited.stat()
            edited.write_text('VERSION = "v2"\n')
            os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
            os.environ["WM_TEST_MARK"] = "after"
            await manager.restart(all_workers=True, wait=True)
            entry = acked_servers(manager)["Hurtle-Server-0-0"]
            assert entry["generation"] == 2
            assert (entry["probe"]["version"], entry["probe"]["mark"]) == ("v2", "after")

    asyncio.run(scenario())


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_process_writes_where_the_main_process_writes_now_with_its_umask(
    start_method: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like a spawned process, one forked from the template (started long before, with other
    output descriptors and umask) gets the main process's current stdout, stderr, umask."""
    monkeypatch.setenv("WM_PROBE_PRINTS", "1")
    if start_method == "forkserver":  # a template writing elsewhere (unless one runs already)
        _start_template_writing_to_devnull()
    old_mask = os.umask(0o027)

    async def scenario() -> int:
        manager = WorkerManager("wm_targets:probe", start_method=start_method)
        async with running(manager):
            probe = manager.workers["Hurtle-Server-0-0"]["probe"]
            assert probe["umask"] == 0o027, oct(probe["umask"])
            return int(probe["pid"])

    try:
        pid = asyncio.run(scenario())
    finally:
        os.umask(old_mask)
    out, err = capfd.readouterr()
    assert f"probe {pid} on stdout" in out
    assert f"probe {pid} on stderr" in err


def test_a_running_template_preloads_what_a_later_manager_names() -> None:
    """Preloads add up: a module a later manager names is imported by the running template
    (once no fork request waits), and the processes forked after that share its import."""
    start_template()  # running, without the module

    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:later_probe", start_method="forkserver", preload=["wm_preloaded_later"]
        )
        async with running(manager):
            seen = []
            for _ in range(50):  # a restart forks again; the template imports when idle
                entry = acked_servers(manager)["Hurtle-Server-0-0"]
                later = entry["later"]
                seen.append(later)
                if later["imported_in"] == later["ppid"]:
                    return
                await manager.restart(all_workers=True, wait=True)
            pytest.fail(f"never imported in the template: {seen}")

    asyncio.run(scenario())


def _start_template_writing_to_devnull() -> None:
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        start_template()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def test_a_preload_that_starts_a_thread_is_named_in_a_warning() -> None:
    """Forking a process with threads copies their locks: the template says so at once."""
    env = dict(os.environ, PYTHONPATH=str(MAIN.parent), WM_EXTRA_PRELOAD="wm_threaded")
    proc = subprocess.Popen(
        [sys.executable, str(MAIN), "probe", "forkserver"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("PIDS "), "it still serves"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert "a preloaded module started threads in the forkserver's template" in err, err
    assert "wm-threaded-sleeper" in err


def test_forkserver_shared_objects_and_custom_processes() -> None:
    """A multiprocessing object made in the main process reaches processes forked from the
    template (it travels like under spawn), custom processes included."""
    import multiprocessing

    from hurtle_worker_manager import SharedContext

    context = multiprocessing.get_context("forkserver")
    shared = SharedContext(hits=context.Value("i", 0))

    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:counter", workers=1, shared_ctx=shared, start_method="forkserver"
        )
        manager.manage("Helper", "wm_targets:sync_worker", {"tag": "helper"})
        async with running(manager):
            await wait_until(lambda: shared.hits.value == 1, what="the worker to count")
            helper = await wait_until(
                lambda: (
                    manager.workers.get("Hurtle-Helper-0", {}).get("tag") == "helper"
                    and manager.workers["Hurtle-Helper-0"]
                ),
                what="the custom process to report",
            )
            assert alive(helper["pid"])

    asyncio.run(scenario())


def test_a_killed_template_takes_its_processes_along_and_all_are_respawned(
    manager_log: pytest.LogCaptureFixture,
) -> None:
    """The template is every process's parent: if it dies, they die with it (none is left
    unsupervised), and the manager respawns them from a new template."""

    async def scenario() -> None:
        manager = WorkerManager("wm_targets:probe", workers=2, start_method="forkserver")
        async with running(manager):
            first = acked_servers(manager)
            template = {entry["probe"]["ppid"] for entry in first.values()}
            assert len(template) == 1
            os.kill(template.pop(), signal.SIGKILL)

            def respawned() -> dict[str, dict[str, object]] | None:
                acked = acked_servers(manager)
                fresh = [e for e in acked.values() if e["generation"] == 2]
                return acked if len(fresh) == 2 else None

            second = await wait_until(respawned, what="both workers respawned")
            assert not any(alive(entry["pid"]) for entry in first.values())
            parents = {entry["probe"]["ppid"] for entry in second.values()}  # type: ignore[index]
            assert len(parents) == 1 and parents != {e["probe"]["ppid"] for e in first.values()}

    asyncio.run(scenario())
    assert manager_log.text.count("The forkserver's template (pid") == 1, manager_log.text


_STARTS_A_TEMPLATE = """
import json, sys, time
from hurtle_worker_manager.template import start_template_ahead, stop_template, template_pid
start_template_ahead([], 30.0)
deadline = time.monotonic() + 10
while True:  # posix_spawn may return while the new program is still being loaded
    with open(f"/proc/{template_pid()}/cmdline", "rb") as cmdline:
        args = cmdline.read().split(b"\\0")
    if b"-c" in args or time.monotonic() > deadline:
        break
    time.sleep(0.01)
modules = ("socket", "subprocess", "threading", "ctypes.util")
print(json.dumps({
    "args": [arg.decode() for arg in args[1 : args.index(b"-c")]],
    "imported": [name for name in modules if name in sys.modules],
}))
stop_template()
"""


@pytest.mark.parametrize(
    ("options", "expected"),
    [([], []), (["-X", "utf8", "-W", "error::DeprecationWarning"], ["-X", "utf8"])],
)
def test_a_template_starts_with_the_interpreter_options_of_the_main_process(
    options: list[str], expected: list[str]
) -> None:
    """As spawn would: the main process's options (here -X and -W) reach the template. A
    main process started without options hands on none, and starting its template imports
    none of the modules that cost milliseconds (it starts first thing, see ``template``)."""
    done = subprocess.run(
        [sys.executable, *options, "-c", _STARTS_A_TEMPLATE],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONWARNINGS=""),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for option in expected:
        assert option in report["args"], report
    if options:
        assert "-Werror::DeprecationWarning" in report["args"], report
    else:
        assert report["args"] == [], "its settings come from the environment it inherits"
        assert report["imported"] == [], "the template starts before these are imported"
