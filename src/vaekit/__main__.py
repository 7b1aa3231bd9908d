"""``python -m vaekit``: the ``vaekit`` command (``torchrun -m vaekit train ...`` starts it per
process; the command group itself ends a worker as workers end, :class:`vaekit.cli.launch.Group`)."""

from vaekit.cli import main

main()
