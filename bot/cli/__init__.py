"""The ``smtp-bot`` command line: the entry point, break-glass commands, the audit export and
``check``. The top of the tree: may import anything in ``bot``; nothing imports it.
"""
