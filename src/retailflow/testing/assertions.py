"""Fluent assertions on a process instance, read aloud as the business speaks::

    assert_that(order).is_waiting_at("pick_and_pack").has_passed("reserve_stock")

Each check reads the instance afresh from the engine, so the object ``start`` returned is enough,
however far the instance has moved since. A failed check says what was expected, then where the
instance actually is (wait states, incidents), what it passed and which variables it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from retailflow.engine import Engine
from retailflow.model import Instance, InstanceStatus
from retailflow.testing.binding import bound_engine
from retailflow.testing.whereabouts import Whereabouts

_MISSING = object()


def assert_that(instance: str | Instance, *, engine: Engine | None = None) -> InstanceAssert:
    """Start a chain of checks on ``instance`` (the object or its id)."""
    return InstanceAssert(bound_engine(engine), instance)


class InstanceAssert:
    """The checks; each returns ``self`` so they chain."""

    def __init__(self, engine: Engine, instance: str | Instance) -> None:
        self._engine = engine
        self._instance = instance

    @property
    def whereabouts(self) -> Whereabouts:
        """The instance as it stands now."""
        return Whereabouts.read(self._engine, self._instance)

    def is_started(self) -> InstanceAssert:
        """The instance exists (it started, whatever happened since)."""
        __tracebackhide__ = True
        self.whereabouts  # noqa: B018 - reading it raises NotFoundError for an unknown id
        return self

    def is_running(self) -> InstanceAssert:
        """The instance has not ended."""
        __tracebackhide__ = True
        return self._check(lambda w: w.instance.status == InstanceStatus.RUNNING, "to be running")

    def is_ended(self) -> InstanceAssert:
        """The instance completed (reached its end, not cancelled)."""
        __tracebackhide__ = True
        return self._check(lambda w: w.instance.status == InstanceStatus.COMPLETED, "to have ended")

    def is_ended_at(self, end_event: str) -> InstanceAssert:
        """The instance completed, and passed the end event ``end_event``."""
        __tracebackhide__ = True
        return self._check(
            lambda w: w.instance.status == InstanceStatus.COMPLETED and end_event in w.passed,
            f"to have ended at {end_event!r}",
        )

    def is_waiting_at(self, *element_ids: str) -> InstanceAssert:
        """Each element has an open wait state: a job, a timer, a message or signal catch, or
        a user task."""
        __tracebackhide__ = True
        return self._check(
            lambda w: all(e in w.waiting_at for e in element_ids),
            f"to be waiting at {_ids(element_ids)}",
        )

    def is_not_waiting_at(self, *element_ids: str) -> InstanceAssert:
        """None of the elements has an open wait state."""
        __tracebackhide__ = True
        return self._check(
            lambda w: not any(e in w.waiting_at for e in element_ids),
            f"not to be waiting at {_ids(element_ids)}",
        )

    def has_passed(self, *element_ids: str) -> InstanceAssert:
        """Each element completed at least once."""
        __tracebackhide__ = True
        return self._check(
            lambda w: all(e in w.passed for e in element_ids), f"to have passed {_ids(element_ids)}"
        )

    def has_passed_in_order(self, *element_ids: str) -> InstanceAssert:
        """The elements completed in this order (others may come in between)."""
        __tracebackhide__ = True

        def in_order(whereabouts: Whereabouts) -> bool:
            remaining = iter(whereabouts.passed)
            return all(element in remaining for element in element_ids)

        return self._check(in_order, f"to have passed {' -> '.join(element_ids)} in this order")

    def has_not_passed(self, *element_ids: str) -> InstanceAssert:
        """None of the elements completed."""
        __tracebackhide__ = True
        return self._check(
            lambda w: not any(e in w.passed for e in element_ids),
            f"not to have passed {_ids(element_ids)}",
        )

    def has_variables(self, **expected: Any) -> InstanceAssert:
        """The process variables include these values."""
        __tracebackhide__ = True

        def matches(whereabouts: Whereabouts) -> bool:
            return all(
                whereabouts.variables.get(name, _MISSING) == value
                for name, value in expected.items()
            )

        def actual(whereabouts: Whereabouts) -> str:
            shown = {name: whereabouts.variables.get(name, "<missing>") for name in expected}
            return f"  has:        {shown}"

        return self._check(matches, f"to have variables {expected}", detail=actual)

    def has_incident_at(self, element_id: str, message: str | None = None) -> InstanceAssert:
        """An open incident sits at ``element_id`` (and its message contains ``message``)."""
        __tracebackhide__ = True
        return self._check(
            lambda w: any(
                incident.element_id == element_id
                and (message is None or message in incident.message)
                for incident in w.incidents
            ),
            f"to have an incident at {element_id!r}"
            + (f" mentioning {message!r}" if message else ""),
        )

    def has_no_incidents(self) -> InstanceAssert:
        """No open incident."""
        __tracebackhide__ = True
        return self._check(lambda w: not w.incidents, "to have no incidents")

    def has_open_user_task(
        self,
        element_id: str | None = None,
        *,
        assignee: str | None = None,
        candidate_group: str | None = None,
    ) -> InstanceAssert:
        """An open user task (at ``element_id``) for ``assignee`` / ``candidate_group``."""
        __tracebackhide__ = True

        def found(whereabouts: Whereabouts) -> bool:
            return any(
                (element_id is None or task.element_id == element_id)
                and (assignee is None or task.assignee == assignee)
                and (candidate_group is None or candidate_group in task.candidate_groups)
                for task in whereabouts.user_tasks
            )

        wanted = [
            f"at {element_id!r}" if element_id else "",
            f"for assignee {assignee!r}" if assignee else "",
            f"for candidate group {candidate_group!r}" if candidate_group else "",
        ]
        return self._check(found, " ".join(["to have an open user task", *filter(None, wanted)]))

    def _check(
        self,
        holds: Callable[[Whereabouts], bool],
        expectation: str,
        detail: Callable[[Whereabouts], str] | None = None,
    ) -> InstanceAssert:
        # pytest leaves out frames that set __tracebackhide__: a failure points at the test.
        __tracebackhide__ = True
        whereabouts = self.whereabouts
        if not holds(whereabouts):
            instance = whereabouts.instance
            lines = [f"expected {instance.process_id} instance {instance.id[:8]} {expectation}"]
            if detail is not None:
                lines.append(detail(whereabouts))
            lines.append(whereabouts.describe())
            raise AssertionError("\n".join(lines))
        return self


def _ids(element_ids: tuple[str, ...]) -> str:
    return ", ".join(repr(element) for element in element_ids)
