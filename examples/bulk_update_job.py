"""A bulk update job with a report: set each customer's `plan` custom attribute from a CSV
file (`id,plan`), write one JSON line per row to the report, and exit 1 if any row failed.

    export HELPCRUNCH_API_KEY=...                  # and HELPCRUNCH_BASE_URL for the fake
    python examples/bulk_update_job.py examples/plan-upgrades.csv report.jsonl

HelpCrunch takes only custom attributes created first in its settings (Settings →
Contacts → Custom attributes): create `plan` there before running this on a real account.
"""

import asyncio
import csv
import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import helpcrunch_async as hc


def read_rows(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(customer id, the fields to change) for each row, read lazily."""
    with open(path, newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            yield int(row["id"]), {"custom_data": {"plan": row["plan"]}}


async def update(rows_path: str, report: TextIO) -> int:
    """Run the job, one report line per row; the number of rows that failed."""
    done = failed = 0
    async with hc.AsyncHelpCrunch() as client:  # $HELPCRUNCH_API_KEY, $HELPCRUNCH_BASE_URL
        async for result in client.update_customers(read_rows(rows_path), ordered=True):
            line = {
                "row": result.index + 1,
                "id": result.customer_id,
                "ok": result.ok,
                "error": None if result.ok else str(result.error),
                "attempts": result.attempts,
            }
            report.write(json.dumps(line) + "\n")
            done, failed = done + result.ok, failed + (not result.ok)
        print(
            f"{done} updated, {failed} failed, {client.stats.requests} requests "
            f"({client.stats.retries} retries); report: {report.name}"
        )
    return failed


def main(rows_path: str, report_path: str) -> int:
    with open(report_path, "w", encoding="utf-8") as report:
        failed = asyncio.run(update(rows_path, report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
