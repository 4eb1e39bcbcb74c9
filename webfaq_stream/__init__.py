"""webfaq-stream: a streaming, incremental ingestion daemon for a WebFAQ-style FAQ dataset.

One sub-package per stage of the flow (``decode`` -> ``extract`` -> ``domain`` cleaning and
language id -> ``embed`` -> ``store``; ``release``, ``negatives``), the ``worker`` that runs it, the
``adapters`` to Kafka, Qdrant and crawl files, and the ``cli``. See docs/architecture.md.

Each sub-package names its public API in ``__all__`` and imports it on first use
(:func:`lazy_exports`), so importing a package never loads a model or an engine it does not need
(``webfaq-stream --help`` stays fast).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__version__ = "0.1.0"


def lazy_exports(package: str,
                 exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A sub-package's module ``__getattr__`` and ``__dir__`` (PEP 562) for ``exports``: public name ->
    the module under ``package`` that defines it. A name is imported from its module on first access;
    any other name raises ``AttributeError`` (so ``from package import submodule`` still works)."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
