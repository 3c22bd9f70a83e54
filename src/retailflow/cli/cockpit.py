"""``retailflow cockpit`` (the web app and REST API) and ``retailflow token create / list /
revoke``: who may use it."""

from __future__ import annotations

from typing import Annotated

import typer

from retailflow.cli.operations import DbOption, store_url
from retailflow.cli.output import JsonOption, print_rows
from retailflow.model import NotFoundError, RetailflowError, Role

token = typer.Typer(
    help="Tokens for the cockpit and its REST API: create one per person or script, list "
    "them, revoke one. A viewer reads; an operator also acts, and history names the token "
    "behind every action.",
    no_args_is_help=True,
)


def _durable_url(db: str) -> str:
    url = store_url(db)
    if url == "memory://":
        raise typer.BadParameter(
            "the cockpit serves a store other processes share: give a SQLite file or a "
            "PostgreSQL URL, not memory://",
            param_hint="--db",
        )
    return url


def cockpit(
    db: DbOption,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on; 127.0.0.1 keeps it on this machine (put a TLS proxy "
            "in front before binding anything else)."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
) -> None:
    """Serve the cockpit over a store until Ctrl-C: pages to find instances, see them on
    their diagrams, retry incidents and complete tasks; the REST API under /api/v1; /metrics.

    Nothing answers without a token: make one first with `retailflow token create NAME
    --role operator --db URL`, then open http://127.0.0.1:8080/ and log in with it. A SQLite
    file must exist (`retailflow db upgrade --db FILE` creates one). The cockpit runs no
    jobs: the work an action makes due (a retried job, a fired timer's next step) is done by
    your workers (`retailflow worker`). Docs: docs/cockpit.md."""
    import uvicorn

    from retailflow.cockpit import create_app
    from retailflow.engine import Engine

    with Engine(_durable_url(db)) as engine:
        typer.echo(f"retailflow cockpit on http://{host}:{port}/ (Ctrl-C stops it)")
        uvicorn.run(create_app(engine), host=host, port=port, log_level="info")


@token.command("create")
def create(
    name: Annotated[
        str,
        typer.Argument(
            help="Who holds it (ann, grafana, billing-script): recorded in history as who "
            "did each action, and the name to revoke it by."
        ),
    ],
    db: DbOption,
    role: Annotated[
        Role,
        typer.Option(
            help="viewer: reads every page and API answer; operator: also acts (retries, "
            "cancels, sets variables, fires timers, correlates, completes tasks, deploys)."
        ),
    ] = Role.VIEWER,
) -> None:
    """Create a token and print it, this once: the store keeps only its hash. Log in with it
    in the browser, or send it as `Authorization: Bearer <token>` to the REST API."""
    from retailflow.cockpit.auth import create_token
    from retailflow.engine import Engine

    with Engine(_durable_url(db)) as engine:
        try:
            secret = create_token(engine.store, name, role, engine.clock.now())
        except RetailflowError as error:
            raise typer.BadParameter(str(error), param_hint="NAME") from error
    typer.echo(secret)


@token.command("list")
def list_tokens(db: DbOption, output_json: JsonOption = False) -> None:
    """List the stored tokens: name, role and when each was created (never the secret, which
    is not kept, nor its hash)."""
    from retailflow.engine import Engine

    with Engine(_durable_url(db)) as engine:
        found = engine.store.list_tokens()
    print_rows(
        [
            {"name": t.name, "role": t.role.value, "created": t.created_at.isoformat()}
            for t in found
        ],
        output_json,
        "Tokens",
        whole=("role", "created"),
    )


@token.command("revoke")
def revoke(
    name: Annotated[
        str, typer.Argument(help="The token's name, as `retailflow token list` shows.")
    ],
    db: DbOption,
) -> None:
    """Revoke a token: from the next request on, it gets 401 (a browser logged in with it is
    sent back to the login page). Its name stays in the history it wrote."""
    from retailflow.engine import Engine

    with Engine(_durable_url(db)) as engine:
        try:
            engine.store.revoke_token(name)
        except NotFoundError as error:
            raise typer.BadParameter(str(error), param_hint="NAME") from error
    typer.echo(f"Token '{name}' revoked.")
