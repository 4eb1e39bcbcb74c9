"""``webfaq-stream worker`` with faults injected, for end-to-end fault tests (production has no hook).

Run as ``python tests/fault_worker.py`` (``worker_processes(faults=True, ...)`` in ``conftest``), with
the worker's usual ``WEBFAQ_*`` settings and any of:

- ``FAULT_STORE_FLAG=<path>``: the store is a ``testing.FaultInjectingStore`` that fails while that
  file exists (its content picks the fault: ``disk_full`` or ``unreachable``; a transient outage);
- ``FAULT_STORE_REJECT=<marker>``: the same store refuses for good (``StoreRejectedError``) every
  upsert that holds a pair whose question contains ``marker``;
- ``FAULT_INDEXER_BUG=<marker>``: the indexer's alignment step raises ``testing.InjectedBug`` (no
  ``WebFAQError``) for the pairs whose question contains ``marker``.

It replaces, in this process only, ``open_pair_store`` of ``webfaq_stream.adapters.qdrant.opener``
(the worker's start-up looks it up when it runs) and ``align_origin`` in ``webfaq_stream.store.indexer``,
then runs the CLI's ``worker`` command.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

FLAG = "FAULT_STORE_FLAG"
REJECT = "FAULT_STORE_REJECT"
INDEXER_BUG = "FAULT_INDEXER_BUG"


def main() -> int:
    from webfaq_stream.adapters.qdrant import opener
    from webfaq_stream.cli.main import main as cli_main
    from webfaq_stream.store import indexer
    from webfaq_stream.testing import FaultInjectingStore, align_origin_with_bug

    flag, reject, bug = os.environ.get(FLAG), os.environ.get(REJECT), os.environ.get(INDEXER_BUG)
    if flag or reject:
        open_real_store = opener.open_pair_store

        def open_faulty_store(**options: Any) -> Any:
            return FaultInjectingStore(open_real_store(**options), Path(flag) if flag else None,
                                       reject=(lambda pair: reject in pair.question) if reject else None)

        opener.open_pair_store = open_faulty_store  # type: ignore[assignment]
    if bug:
        indexer.align_origin = align_origin_with_bug(bug)  # type: ignore[assignment]
    return int(cli_main(["worker"]) or 0)


if __name__ == "__main__":
    sys.exit(main())
