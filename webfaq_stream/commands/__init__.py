"""One module per ``webfaq-stream`` command; each exposes ``register(subparsers)``."""
