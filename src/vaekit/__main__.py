"""``python -m vaekit``: the ``vaekit`` command (``torchrun -m vaekit train ...`` starts it per process)."""

from vaekit.cli import main

main()
