"""``retailflow worker`` with its claim statements timed, for ``scale_out.py``.

It runs the real command (same arguments) and, when the worker stops, writes how long each
claim that returned jobs took, in seconds, as a JSON list to ``$BENCH_CLAIM_LOG``.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from retailflow.cli.app import main
from retailflow.stores.sql.store import SqlStore

durations: list[float] = []
_claim = SqlStore.claim_due_jobs


def timed_claim(self: SqlStore, **arguments: Any) -> Any:
    started = time.perf_counter()
    claimed = _claim(self, **arguments)
    if claimed:
        durations.append(time.perf_counter() - started)
    return claimed


SqlStore.claim_due_jobs = timed_claim  # type: ignore[method-assign]
atexit.register(lambda: Path(os.environ["BENCH_CLAIM_LOG"]).write_text(json.dumps(durations)))

if __name__ == "__main__":
    sys.argv[0] = "retailflow"
    main()
