"""The nightly data sync: make HelpCrunch's customers match your user table, sending only
what changed, and creating the users HelpCrunch does not have yet.

The user table here is a CSV file (`user_id,name,email,plan`); swap `read_users` for a
query of your database. Without `--apply` it is a dry run: it reads the account and prints
what would change, sending no write.

    export HELPCRUNCH_API_KEY=...                  # and HELPCRUNCH_BASE_URL for the fake
    python examples/nightly_sync.py examples/users.csv             # what would change
    python examples/nightly_sync.py examples/users.csv --apply     # make it so
"""

import argparse
import asyncio
import csv
import sys
from collections.abc import Iterator
from typing import Any

import helpcrunch_async as hc


def read_users(path: str) -> Iterator[dict[str, Any]]:
    """One row per user: the match key (`user_id`) and the fields HelpCrunch should hold."""
    with open(path, newline="", encoding="utf-8") as file:
        for user in csv.DictReader(file):
            yield {
                "user_id": user["user_id"],
                "name": user["name"],
                "email": user["email"],
                "custom_data": {"plan": user["plan"]},
            }


async def main(path: str, apply: bool) -> int:
    async with hc.AsyncHelpCrunch() as client:  # $HELPCRUNCH_API_KEY, $HELPCRUNCH_BASE_URL
        sync = client.sync_customers(
            read_users(path), match="user_id", create_missing=True, dry_run=not apply
        )
        async for result in sync:
            if result.action == "failed":
                print(f"{result.key}: failed: {result.error}")
            elif result.action != "unchanged":
                changes = ", ".join(
                    f"{field} {old!r} -> {new!r}" for field, (old, new) in result.diff.items()
                )
                print(f"{result.key}: {result.action}: {changes}")
        counts = ", ".join(f"{n} {action}" for action, n in sync.counts.items())
        print(f"{'' if apply else 'dry run: '}{counts}; {sync.reads} reads, {sync.writes} writes")
        return 1 if sync.counts["failed"] else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("users", help="the user table, as CSV")
    parser.add_argument("--apply", action="store_true", help="send the changes")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.users, args.apply)))
