"""The wire names of the customer fields, written from HelpCrunch's docs.

Written here by hand, not taken from ``helpcrunch_async._convert.WIRE_KEYS``: a wrong
name in the SDK's table then fails the tests that compare against this one.
"""

WIRE_KEYS = {
    "name": "name",
    "email": "email",
    "user_id": "userId",
    "company": "company",
    "phone": "phone",
    "first_seen": "firstSeen",
    "last_seen": "lastSeen",
    "unsubscribed": "unsubscribed",
    "blocked": "blocked",
    "source": "source",
    "referer": "referer",
    "last_page": "lastPage",
    "locale": "locale",
    "notes": "notes",
    "tags": "tags",
    "custom_data": "customData",
}

# Every key of a customer in HelpCrunch's answers, in the documented order.
RESPONSE_KEYS = (
    "id",
    "name",
    "email",
    "userId",
    "company",
    "phone",
    "firstSeen",
    "lastSeen",
    "location",
    "device",
    "unsubscribed",
    "blocked",
    "source",
    "referer",
    "lastPage",
    "locale",
    "createdFrom",
    "integrationId",
    "notes",
    "tags",
    "customData",
)
