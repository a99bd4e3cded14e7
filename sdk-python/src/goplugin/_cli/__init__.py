"""The subcommands of ``python -m goplugin``, one module each (``inspect``, ``check``)."""
