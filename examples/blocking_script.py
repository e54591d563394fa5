"""A plain script with the blocking client: the first customers of the account, and one
customer found by email. It only reads, so it is safe to try on a real account.

    export HELPCRUNCH_API_KEY=...                  # and HELPCRUNCH_BASE_URL for the fake
    python examples/blocking_script.py [EMAIL]
"""

import sys

import helpcrunch_async as hc


def main(email: str | None) -> int:
    with hc.HelpCrunch() as client:  # $HELPCRUNCH_API_KEY, $HELPCRUNCH_BASE_URL
        customers = client.list_customers(limit=5)
        for customer in customers:
            print(customer.id, customer.name, customer.email)
        print(f"{customers.total} customers in the account")
        if email is not None:
            found = client.find_customer(email=email)
            print(f"{email}: {'nobody' if found is None else f'customer {found.id}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
