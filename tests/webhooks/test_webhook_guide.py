"""docs/guides/webhooks.md: its receivers and its end-to-end test run as printed."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from receiver_apps import uvicorn_in_thread

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch

GUIDE = Path(__file__).parent.parent.parent / "docs" / "guides" / "webhooks.md"
KEY = "guide-signing-key"


def _blocks() -> dict[str, str]:
    """The page's python blocks by the file name in their first line (``# name.py``)."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n# (\S+\.py)\n(.*?)^```", text, re.M | re.S)
    assert len(blocks) == len(re.findall(r"^```python\n", text, re.M)), "unnamed block"
    return dict(blocks)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The page's files written into a fresh directory on sys.path."""
    for name, code in _blocks().items():
        (tmp_path / name).write_text(code, encoding="utf-8")
    monkeypatch.setenv("HELPCRUNCH_WEBHOOK_SIGNING_KEY", KEY)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in _blocks():
        sys.modules.pop(name.removesuffix(".py"), None)


def _load(name: str) -> ModuleType:
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def test_every_python_block_is_run_here() -> None:
    assert set(_blocks()) == {"webhook_app.py", "fastapi_webhooks.py", "test_webhooks.py"}


async def test_the_aiohttp_receiver_and_the_pages_test_run_as_printed(project: Path) -> None:
    page_test = _load("test_webhooks")
    await page_test.test_a_new_customer_reaches_the_receiver()
    assert len(sys.modules["webhook_app"].received) == 2


async def test_the_fastapi_receiver_gets_the_fakes_deliveries(project: Path) -> None:
    module = _load("fastapi_webhooks")
    with uvicorn_in_thread(module.app) as base:
        async with FakeHelpCrunch(
            rate_limit=None, webhook_url=f"{base}/helpcrunch/webhooks", webhook_signing_key=KEY
        ) as fake:
            async with hc.AsyncHelpCrunch(
                fake.api_key, base_url=fake.base_url, rate_limit=None
            ) as client:
                customer = await client.create_customer(name="Ann")
                await client.update_customer(customer.id, email="ann@example.com")
            await fake.webhooks_idle()
    assert module.received == [
        ("customer.new", customer.id),
        ("customer.email_updated", customer.id),
    ]


async def test_the_fastapi_receiver_refuses_another_key(project: Path) -> None:
    module = _load("fastapi_webhooks")
    with uvicorn_in_thread(module.app) as base:
        async with FakeHelpCrunch(
            rate_limit=None,
            webhook_url=f"{base}/helpcrunch/webhooks",
            webhook_signing_key="not-the-key",
            webhook_max_attempts=2,
            webhook_retry_delay=0.01,
        ) as fake:
            async with hc.AsyncHelpCrunch(
                fake.api_key, base_url=fake.base_url, rate_limit=None
            ) as client:
                await client.create_customer(name="Ann")
            await fake.webhooks_idle()
            assert [d.status for d in fake.webhook_deliveries] == [400, 400]
    assert module.received == []
