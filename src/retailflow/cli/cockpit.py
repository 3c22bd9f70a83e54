"""``retailflow cockpit`` (the web app and REST API) and ``retailflow token create``."""

from __future__ import annotations

from typing import Annotated

import typer

from retailflow.cli.operations import DbOption, store_url
from retailflow.model import RetailflowError, Role

token = typer.Typer(help="Tokens for the cockpit and its REST API.", no_args_is_help=True)


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
    """Serve the cockpit (pages, REST API under /api/v1, /metrics) over a store until Ctrl-C.
    Nothing answers without a token: create one with `retailflow token create`."""
    import uvicorn

    from retailflow.cockpit import create_app
    from retailflow.engine import Engine

    with Engine(_durable_url(db)) as engine:
        typer.echo(f"retailflow cockpit on http://{host}:{port}/ (Ctrl-C stops it)")
        uvicorn.run(create_app(engine), host=host, port=port, log_level="info")


@token.command("create")
def create(
    name: Annotated[
        str, typer.Argument(help="Who holds it: recorded in history as who did each action.")
    ],
    db: DbOption,
    role: Annotated[
        Role, typer.Option(help="viewer: reads; operator: also retries, cancels, deploys ...")
    ] = Role.VIEWER,
) -> None:
    """Create a token and print it, this once: the store keeps only its hash."""
    from retailflow.cockpit.auth import create_token
    from retailflow.engine import Engine

    with Engine(_durable_url(db)) as engine:
        try:
            secret = create_token(engine.store, name, role, engine.clock.now())
        except RetailflowError as error:
            raise typer.BadParameter(str(error), param_hint="NAME") from error
    typer.echo(secret)
