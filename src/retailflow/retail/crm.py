"""CRM handlers: what the business tells its customers."""

from __future__ import annotations

from sqlalchemy.orm import Session

from retailflow.handlers import HandlerContext, HandlerRegistry
from retailflow.retail.backoffice import Backoffice
from retailflow.retail.records import Notification


def crm_handlers(office: Backoffice) -> HandlerRegistry:
    """The ``crm.*`` handlers, working on ``office``."""
    handlers = HandlerRegistry()

    @handlers.handler("crm.notify_customer")
    def notify(customer_id: str, context: HandlerContext) -> None:
        """Send the customer the message the task's ``template`` header names."""
        template = context.headers.get("template", "generic")

        def effect(session: Session) -> None:
            session.add(
                Notification(customer_id=customer_id, template=template, sent_at=office.clock.now())
            )

        office.once(context.idempotency_key, effect)

    return handlers
