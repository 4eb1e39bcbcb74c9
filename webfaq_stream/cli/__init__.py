"""The command line: ``main`` parses and dispatches; one module per command (parse, call a service, print)."""

from webfaq_stream import lazy_exports

_EXPORTS = dict.fromkeys(("main", "build_parser"), "main")
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the keys of _EXPORTS
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
