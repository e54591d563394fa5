"""docs/guides/tracing.md's examples ("Tracing and hooks"), as printed, in a fresh Python process.

The key and URL come from the environment (as the example says), pointing at the fake;
what the blocks print, the hooks' counts and the console exporter's span, is checked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from helpcrunch_async.testing import FakeHelpCrunch

GUIDE = Path(__file__).parent.parent.parent / "docs" / "guides" / "tracing.md"

RUNNER = textwrap.dedent("""
    import ast, asyncio, sys

    async def main(blocks):
        namespace = {}
        for block in blocks:  # one namespace, as a reader pastes one after the other
            code = compile(block, "tracing.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            result = eval(code, namespace)
            if result is not None:
                await result

    asyncio.run(main(sys.argv[1:]))
""")


def _blocks() -> tuple[str, list[str]]:
    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(r"^# Tracing and hooks\n(.*)", text, re.M | re.S)
    assert match, "docs/guides/tracing.md has no '# Tracing and hooks' title"
    return match.group(1), re.findall(r"^```python\n(.*?)^```", match.group(1), re.M | re.S)


def test_tracing_and_hooks_examples_run_as_printed(helpcrunch_fake: FakeHelpCrunch) -> None:
    section, blocks = _blocks()
    assert len(blocks) == 2
    helpcrunch_fake.seed_customers(1)
    env = {
        **os.environ,
        "HELPCRUNCH_API_KEY": helpcrunch_fake.api_key,
        "HELPCRUNCH_BASE_URL": helpcrunch_fake.base_url,
    }
    env.pop("OTEL_PYTHON_TRACER_PROVIDER", None)
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, *blocks],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    first_line, spans = result.stdout.split("\n", 1)
    [promised] = re.findall(r"^prints `(.*)`\.$", section, re.M)
    assert first_line == promised == "{200: 1} []"
    assert helpcrunch_fake.customers[1]["name"] == "Ann"
    assert '"name": "helpcrunch.get_customer"' in spans
    assert '"http.request.method": "GET"' in spans
    assert '"http.response.status_code": 200' in spans
    assert spans.count('"name": "helpcrunch.') == 1  # the hooks' call ran untraced
    assert helpcrunch_fake.api_key not in result.stdout + result.stderr
