"""Shared fixtures: clients, the seed examples, and ``mock_api`` (aioresponses + shim).

aioresponses 0.7.9 builds its fake ``ClientResponse`` without the ``stream_writer``
keyword that aiohttp 3.14 made required, so every mocked request dies with
``TypeError: ClientResponse.__init__() missing 1 required keyword-only argument:
'stream_writer'`` (upstream: https://github.com/pnuckowski/aioresponses/issues/289).
``mock_api`` probes for that failure and, only when it is there, makes aioresponses
build a ``ClientResponse`` subclass whose ``stream_writer`` defaults to a stub that
reports ``output_size = 0`` (the request is "already sent", as aiohttp assumes when
``writer`` is None). Once aioresponses is fixed the probe passes and nothing is patched.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aioresponses.core
import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses as _aioresponses
from hypothesis import HealthCheck, settings
from yarl import URL

import helpcrunch_async as hc

# pytester: the hosting suite runs users' test files with the plugin (tests/hosting/
# test_hosting_pytest_plugin.py); pytest takes ``pytest_plugins`` only in this conftest.
pytest_plugins = ["pytester"]

# The machine running the suite may be busy (CI, a benchmark, other suites): property tests
# check behaviour, never speed, so neither a deadline nor slow data generation fails them.
settings.register_profile("helpcrunch", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("helpcrunch")

# Ctrl-C tests send SIGINT to this process and to the servers and commands it starts. A
# suite started in the background (`cmd &` in a script, nohup, some CI runners) inherits
# SIGINT *ignored*, and Python then installs no KeyboardInterrupt handler, here or in any
# child: those tests would fail for the harness's sake. Take the default handler back;
# children then start with SIGINT at its default, as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Bytecode for the suite's own processes. The suite starts some 150 Python processes
# (pytest-xdist's workers, the command, servers, Celery and gunicorn workers). Where
# PYTHONDONTWRITEBYTECODE is set (some CI images and containers set it), every one of
# them compiles the package afresh, and every worker re-does pytest's assertion rewrite
# of all the test modules: ~3 CPU-s a worker, ~0.07 s a child. Keep that setting's
# promise (nothing written into the source tree) and cache all the same, in a directory
# of pytest's own cache (git-ignored): this process, then every child, inherits it.
_BYTECODE = Path(__file__).parent.parent / ".pytest_cache" / "bytecode"
if os.environ.get("PYTHONDONTWRITEBYTECODE") and not os.environ.get("PYTHONPYCACHEPREFIX"):
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ["PYTHONPYCACHEPREFIX"] = str(_BYTECODE)
    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(_BYTECODE)


# No CA bundle for the suite's processes. aiohttp builds two TLS contexts as it is
# imported, each loading the machine's CA bundle (here ~200 KB of PEM, ~30 ms a context),
# in every one of the suite's ~150 Python processes. The suite is hermetic: its processes
# speak plain HTTP to servers on loopback (the fake, the apps under test), no test makes a
# TLS connection, so no certificate is ever checked against that bundle (a test that ever
# did would fail loudly, "certificate verify failed", not pass by mistake). Measured on 2
# CPUs: ~12 CPU-s of a ~115 CPU-s run. This process and its children get an empty one.
os.environ["SSL_CERT_FILE"] = os.devnull
os.environ["SSL_CERT_DIR"] = os.devnull


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: three workers a CPU (at most 16). Much of this suite's time is
    waiting (real servers starting, rate limits, deadlines, signals): with a worker a CPU
    the CPUs sat idle half the run (133 s on 2 CPUs; 3 a CPU: under 60 s). Where
    $PYTEST_XDIST_AUTO_NUM_WORKERS is set, it decides."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own hook reads it
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(3 * (cpus or 1), 16)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Leave what collection built out of every later garbage collection.

    A collected suite is some 130,000 objects (modules, test items, hypothesis's
    strategies); each full ``gc.collect()`` walks them all, ~50 ms. The leak checks of
    the hosting suite collect several times per test, and Python's own full collections
    come every so often in every test. ``gc.freeze()`` moves what exists now to the
    permanent generation: collections then walk only what the tests make, so a session,
    connector or socket a test leaves behind is still found, and reported, as before.
    """
    gc.collect()
    gc.freeze()


API_KEY = "sk-test-SECRET"
BASE_URL = "https://api.helpcrunch.com/v1"
FIXTURES = Path(__file__).parent / "fixtures"


# --- aioresponses shim (pnuckowski/aioresponses#289) ----------------------------------


class _NoStreamWriter:
    """Stands in for the request's stream writer of a response that was never sent."""

    output_size = 0


class _ShimClientResponse(ClientResponse):
    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NoStreamWriter())
        super().__init__(method, url, **kwargs)


def aioresponses_needs_shim() -> bool:
    """Build one fake response the way aioresponses does; True if aiohttp refuses it."""
    probe = aioresponses.core.RequestMatch("https://probe.invalid/", method="GET")
    try:
        probe._build_response(URL("https://probe.invalid/"))
    except TypeError as exc:
        if "stream_writer" in str(exc):
            return True
        raise
    return False


@pytest.fixture
def aioresponses_shim() -> tuple[Any, type[ClientResponse]]:
    """(the probe, the shim class), for the test that the shim stays a no-op once fixed."""
    return aioresponses_needs_shim, _ShimClientResponse


class MockAPI(_aioresponses):
    """aioresponses plus helpers to read back what the client sent."""

    def sent(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Every request seen: (method, url, kwargs)."""
        return [
            (method, str(url), call.kwargs)
            for (method, url), calls in self.requests.items()
            for call in calls
        ]

    def only_request(self) -> tuple[str, str, dict[str, Any]]:
        requests = self.sent()
        assert len(requests) == 1, requests
        return requests[0]

    def sent_json(self) -> Any:
        """The parsed JSON body of the one request sent."""
        data = self.only_request()[2]["data"]
        assert isinstance(data, bytes)
        return json.loads(data)


@pytest.fixture
def mock_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockAPI]:
    """``aioresponses`` that works on aiohttp 3.14 (see the module docstring)."""
    if aioresponses_needs_shim():
        monkeypatch.setattr(aioresponses.core, "ClientResponse", _ShimClientResponse)
    with MockAPI() as mocked:
        yield mocked  # type: ignore[misc]


# --- seed examples and clients --------------------------------------------------------


@pytest.fixture(scope="session")
def seed_request() -> dict[str, Any]:
    return json.loads((FIXTURES / "seed_request.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def seed_response() -> dict[str, Any]:
    return json.loads((FIXTURES / "seed_response.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _no_base_url_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without $HELPCRUNCH_BASE_URL (a developer's own must not leak in)."""
    monkeypatch.delenv("HELPCRUNCH_BASE_URL", raising=False)


@pytest.fixture
def no_api_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELPCRUNCH_API_KEY", raising=False)


@pytest.fixture
async def client(no_api_key_env: None) -> AsyncIterator[hc.AsyncHelpCrunch]:
    async with hc.AsyncHelpCrunch(
        api_key=API_KEY, base_url=BASE_URL, rate_limit=None, max_retries=0
    ) as c:
        yield c
