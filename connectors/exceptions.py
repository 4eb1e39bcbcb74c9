"""Connector errors, under the project's single root ``WebFAQError``.

Connectors raise the domain's error classes (``StoreError``, ``BrokerError``...) or these
subclasses, so the application catches them without knowing which adapter is in use.
"""

from webfaq_stream.exceptions import BrokerError, StoreError, StoreLockedError, WebFAQError

__all__ = ["WebFAQError", "BrokerError", "StoreError", "StoreLockedError"]
