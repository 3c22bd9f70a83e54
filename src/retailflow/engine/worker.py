"""Worker: runs the jobs of a shared store, as one of many processes, until told to stop.

Each of its threads drives an ``Engine`` of its own on one shared store (a pool of connections),
with its own lock-owner id. A thread claims a few due jobs at a time under a lease
(``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL), runs each handler outside any
transaction, then completes the job and advances the instance in one transaction guarded by the
instance's version. A dead worker's jobs become claimable when their lease expires; a stopped
worker finishes the job in hand and gives back the ones it had claimed. A database that goes
away is waited out with growing pauses, and the work resumes when it answers. Before its first
claim a worker builds the expression parsers (``_build_expression_parsers``), so that its
first jobs do not wait for them while they are claimed.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

from retailflow.engine.clock import Clock
from retailflow.engine.engine import Engine
from retailflow.expressions import Dialect, ExpressionEngine
from retailflow.handlers import HandlerLoop, HandlerRegistry, RetryPolicy
from retailflow.model import StoreUnavailableError
from retailflow.stores import Store, open_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How a worker shares the work. The defaults suit handlers that take up to a few seconds.

    ``lease`` must exceed ``claim_batch`` times the longest handler run: a job whose lease
    runs out while it waits its turn is claimed again by another worker (harmless with the
    idempotency key, but wasted work). ``poll_interval`` is the longest pause between claims
    when there is nothing to do; ``max_backoff`` the longest pause while the database is away.
    """

    concurrency: int = 1
    claim_batch: int = 3
    lease: timedelta = timedelta(minutes=5)
    poll_interval: float = 1.0
    max_backoff: float = 30.0


class Worker:
    """Executes due jobs from ``store_url`` with ``handlers`` until ``stop()`` is called."""

    def __init__(
        self,
        store_url: str,
        handlers: HandlerRegistry,
        *,
        settings: WorkerSettings | None = None,
        worker_id: str | None = None,
        retry_policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        migrate: bool = True,
    ) -> None:
        """``migrate=False`` refuses a database whose schema is not this version's, for
        deployments that run ``retailflow db upgrade`` before rolling out workers."""
        self.settings = settings or WorkerSettings()
        if self.settings.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.settings.concurrency}")
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self._store: Store = _open_waiting(store_url, self.settings.max_backoff, migrate)
        self._handlers = handlers
        self._retry_policy = retry_policy
        self._clock = clock
        # One loop for the async handlers of all its threads: they await side by side on it
        # and share what they keep between calls (an httpx.AsyncClient).
        self._handler_loop = HandlerLoop(f"{self.worker_id}-handlers")
        self._stopping = threading.Event()
        self._executed = 0
        self._count_lock = threading.Lock()

    @property
    def stopping(self) -> bool:
        """Whether ``stop()`` was called."""
        return self._stopping.is_set()

    @property
    def executed(self) -> int:
        """Jobs run so far, by all threads."""
        return self._executed

    def run(self) -> int:
        """Work until ``stop()``; returns how many jobs ran. Blocks the calling thread."""
        _build_expression_parsers()  # before "started": from then on the worker claims at once
        logger.info(
            "worker %s started: %d thread(s), claim batch %d, lease %s",
            self.worker_id,
            self.settings.concurrency,
            self.settings.claim_batch,
            self.settings.lease,
            extra={"worker_id": self.worker_id},
        )
        threads = [
            threading.Thread(
                target=self._work,
                args=(f"{self.worker_id}/{n}",),
                name=f"{self.worker_id}/{n}",
                daemon=True,
            )
            for n in range(1, self.settings.concurrency + 1)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._handler_loop.close()
        self._store.close()
        logger.info(
            "worker %s stopped after %d job(s)",
            self.worker_id,
            self._executed,
            extra={"worker_id": self.worker_id},
        )
        return self._executed

    def stop(self) -> None:
        """Finish the jobs in hand, give back the claimed ones, and end ``run()``."""
        if not self._stopping.is_set():
            logger.info(
                "worker %s stopping: finishing the jobs in hand",
                self.worker_id,
                extra={"worker_id": self.worker_id},
            )
        self._stopping.set()

    def _work(self, owner: str) -> None:
        engine = Engine(
            store=self._store,
            handlers=self._handlers,
            clock=self._clock,
            retry_policy=self._retry_policy,
            worker_id=owner,
            lease=self.settings.lease,
            handler_loop=self._handler_loop,
        )
        outage = _Backoff(self.settings.max_backoff)
        defect = _Backoff(self.settings.max_backoff)
        idle = _Backoff(self.settings.poll_interval, first=0.05)
        while not self._stopping.is_set():
            try:
                executed = engine.run(stop=self._stopping, claim_batch=self.settings.claim_batch)
            except StoreUnavailableError as error:
                delay = outage.next()
                logger.warning(
                    "store unavailable, retrying in %.1f s: %s",
                    delay,
                    error,
                    extra={"worker_id": owner},
                )
                self._stopping.wait(delay)
                continue
            except Exception:
                # A defect outside any job (a job's own becomes an incident): keep the worker
                # alive, and loud.
                delay = defect.next()
                logger.exception(
                    "worker thread failed, retrying in %.1f s", delay, extra={"worker_id": owner}
                )
                self._stopping.wait(delay)
                continue
            if outage.attempts:
                logger.info("store available again", extra={"worker_id": owner})
            outage.reset()
            defect.reset()
            with self._count_lock:
                self._executed += executed
            if executed:
                idle.reset()
            else:
                self._stopping.wait(idle.next())


class _Backoff:
    """Pauses that double from ``first`` up to ``ceiling`` seconds, with jitter so that many
    workers do not return to the database in step."""

    def __init__(self, ceiling: float, first: float = 0.5) -> None:
        self._ceiling = ceiling
        self._first = min(first, ceiling)
        self.attempts = 0

    def next(self) -> float:
        # The exponent stops growing once the ceiling is reached: an idle worker polls for
        # days, and 2 ** attempts would overflow a float.
        delay = min(self._ceiling, self._first * 2.0 ** min(self.attempts, 64))
        self.attempts += 1
        return delay * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        self.attempts = 0


def _build_expression_parsers() -> None:
    """Build the FEEL and JUEL parsers, which the whole process shares, now rather than in the
    first job whose condition or mapping needs one: building the grammars takes about a tenth of
    a second (more than a hundred jobs' worth of a worker's CPU), which every worker process
    would otherwise spend while it holds that job and the rest of its claim."""
    expressions = ExpressionEngine()
    expressions.check("=null", dialect=Dialect.FEEL)
    expressions.check("${null}", dialect=Dialect.JUEL)


def _open_waiting(store_url: str, max_backoff: float, migrate: bool) -> Store:
    """Open the store, waiting (ten tries, a few minutes) for a database that answers but is
    busy: starting up, out of connection slots, a SQLite file another process holds locked. A
    database that cannot be opened at all (a URL's typo, or one not running) fails at once
    (``SqlStore``'s ``_opening``): waiting would pass off a mistake as an outage."""
    backoff = _Backoff(max_backoff)
    while True:
        try:
            return open_store(store_url, migrate=migrate)
        except StoreUnavailableError as error:
            if backoff.attempts >= 10:
                raise
            delay = backoff.next()
            logger.warning("store unavailable at start, retrying in %.1f s: %s", delay, error)
            threading.Event().wait(delay)
