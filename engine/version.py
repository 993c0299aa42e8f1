"""This pqw's version, as each client registers it (and `pqw --version` shows it)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("pqw")
except PackageNotFoundError:  # run from a source tree that was never installed
    VERSION = "0+unknown"
