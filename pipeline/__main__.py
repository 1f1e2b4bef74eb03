"""``python -m pipeline`` is the ``newswire`` command."""

from pipeline.cli import main

main()
