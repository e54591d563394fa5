"""A single-threaded script: one blocking call, then ``os.fork()``; the child calls too.

On Python 3.12+ ``os.fork()`` in a process with more than one thread warns
(``DeprecationWarning: This process ... is multi-threaded, use of fork() may lead to
deadlocks in the child``); here that warning is an error. One blocking call must not
leave a thread behind, so the fork is quiet. Prints one JSON line: the threads alive
after the first call, the child's exit code, the outcome of a call after the fork.
Run: ``python single_thread_fork.py BASE_URL API_KEY``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import warnings

warnings.simplefilter("error", DeprecationWarning)

import helpcrunch_async as hc  # noqa: E402 - after the warnings filter, on purpose

client = hc.HelpCrunch(sys.argv[2], base_url=sys.argv[1], rate_limit=None)
client.update_customer(1, name="before fork")
threads = [t.name for t in threading.enumerate()]

pid = os.fork()
if pid == 0:  # the child: the inherited client works here too
    code = 0
    try:
        client.update_customer(2, name="in child")
    except BaseException:
        code = 1
    os._exit(code)

child_code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
client.update_customer(3, name="after fork")
client.close()
print(
    json.dumps(
        {
            "threads_after_call": threads,
            "child_exit": child_code,
            "threads_after_close": threading.active_count(),
        }
    ),
    flush=True,
)
