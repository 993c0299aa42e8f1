"""The dashboard with no terminal, refreshing until killed: `pqw bench` measures its memory.

python -m tui.dev.headless --dsn URL [--refresh SECONDS]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from tui.app import PqwApp
from tui.data.source import AdminSource


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tui.dev.headless")
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--refresh", type=float, default=0.5)
    args = parser.parse_args(argv)
    app = PqwApp(AdminSource(args.dsn), refresh=args.refresh)
    app.run(headless=True, size=(160, 50))


if __name__ == "__main__":
    main()
