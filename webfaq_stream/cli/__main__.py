"""``python -m webfaq_stream.cli``: the ``webfaq-stream`` command."""

import sys

from webfaq_stream.cli.main import main

sys.exit(main())
