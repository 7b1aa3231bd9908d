"""``python -m vaekit.cli``: the ``vaekit`` command."""

from vaekit.cli import main

main()
