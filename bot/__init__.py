"""The bot: Slack surface, command meaning, running, CLI, config and operations.

Wires ``approvals`` (the workflow) to ``providers`` (the back ends); ``bot.runtime`` holds the
wiring. Sub-packages, lowest first: ``config``, ``ops``, ``commands``, ``slack``, ``running``,
``cli``; each imports only those before it (``tests/test_import_graph.py`` checks it).
"""
