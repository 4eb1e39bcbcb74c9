"""``webfaq-stream release``: write a release now, run the release schedule, compare or verify releases.

In: the settings (``WEBFAQ_*``; ``--store-dir``/``--release-dir`` override). Modes:
- (default) write one release now. The command opens the store itself; when the embedded store
  is held by a running worker, it drops a request in ``<release_dir>/.requests/`` that the
  worker's scheduler thread answers, and waits up to ``--wait`` seconds. With a Qdrant server
  (``WEBFAQ_QDRANT_URL``) any process can release. Prints the summary table on stdout.
- ``--schedule``: run the scheduler loop in the foreground (the Procfile's ``release`` process,
  for the Qdrant-server setup): a release at each ``WEBFAQ_RELEASE_SCHEDULE`` time and on request.
- ``--diff A B``: added/updated/removed pairs per language between two releases.
- ``--verify R``: check every file of a release against the sha256 in its manifest.
- ``--list``: the releases present, oldest first.
A release id may be given as ``latest`` or a path. Exit 0; errors exit 2 with one line; a
release that fails verification exits 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from webfaq_stream.settings import load_settings

EXAMPLE = """\
examples:
  webfaq-stream release                         # release now (asks the worker if it holds the store)
  webfaq-stream release --diff latest 2026-11-21T030000Z
  webfaq-stream release --verify latest
  WEBFAQ_QDRANT_URL=http://qdrant:6333 webfaq-stream release --schedule
"""

def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "release", help="write a release now, run the release schedule, diff or verify releases",
        description=__doc__.split("\n\n", 1)[1], epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--schedule", action="store_true", help="run the release scheduler loop")
    mode.add_argument("--diff", nargs=2, metavar=("A", "B"), help="compare release A (older) with B")
    mode.add_argument("--verify", metavar="RELEASE", help="check a release's files against its manifest")
    mode.add_argument("--list", action="store_true", help="list the releases, oldest first")
    parser.add_argument("--store-dir", type=Path, help="embedded store directory (WEBFAQ_STORE_DIR)")
    parser.add_argument("--release-dir", type=Path, help="releases directory (WEBFAQ_RELEASE_DIR)")
    parser.add_argument("--wait", type=float, default=1800.0, metavar="SECONDS",
                        help="how long to wait for a running worker to answer a request (default 1800)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from webfaq_stream.release.build import release_now, summary_table
    from webfaq_stream.release.diff import diff_releases, format_diff
    from webfaq_stream.release.layout import list_releases, resolve_release
    from webfaq_stream.release.manifest import read_manifest, verify_files
    from webfaq_stream.release.schedule import ReleaseScheduler

    overrides = {name: value for name, value in (("store_dir", args.store_dir),
                                                 ("release_dir", args.release_dir)) if value is not None}
    settings = load_settings(**overrides)
    release_dir = Path(settings.release_dir)
    if args.diff:
        old, new = (resolve_release(release_dir, ref) for ref in args.diff)
        print(format_diff(diff_releases(old, new), read_manifest(new)["release_id"]))
        return 0
    if args.verify:
        path = resolve_release(release_dir, args.verify)
        bad = verify_files(path)
        for rel in bad:
            print(f"MISMATCH {rel}")
        print(f"{path.name}: {'OK' if not bad else f'{len(bad)} file(s) differ from the manifest'}")
        return 1 if bad else 0
    if args.list:
        for release_id in list_releases(release_dir):
            manifest = read_manifest(release_dir / release_id)
            print(f"{release_id}  pairs={manifest['pairs']:,}  bitexts={manifest['bitexts']:,}  "
                  f"cutoff={manifest['cutoff'].get('time')}")
        return 0
    progress = not args.no_progress and sys.stderr.isatty()
    if args.schedule:
        logging.basicConfig(level=settings.log_level, stream=sys.stderr)
        scheduler = ReleaseScheduler(settings, lambda: release_now(settings, wait_s=args.wait))
        print(f"release scheduler: '{settings.release_schedule}' (UTC), next at "
              f"{scheduler.next_time.isoformat()}", file=sys.stderr)
        scheduler.run_forever()
        return 0
    print(summary_table(release_now(settings, progress=progress, wait_s=args.wait,
                                    on_request=_asked_the_worker)))
    return 0


def _asked_the_worker(request_id: str) -> None:
    print(f"the store is held by a running worker; asked it for a release (request {request_id})",
          file=sys.stderr)
