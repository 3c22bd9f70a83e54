"""``python -m retailflow.cli``: the same as the ``retailflow`` command."""

from __future__ import annotations

from retailflow.cli.app import main

main()
