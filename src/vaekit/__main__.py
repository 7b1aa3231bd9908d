"""``python -m vaekit``: the ``vaekit`` command (``torchrun -m vaekit train ...`` starts it per process)."""

from vaekit.cli import main
from vaekit.cli.launch import run_command_as_worker
from vaekit.runtime.worker_process import launched_by_torchrun, run_as_worker

if launched_by_torchrun():
    run_as_worker(lambda: run_command_as_worker(main))
else:
    main()
