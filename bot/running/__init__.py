"""Running the bot: HTTP mode and Socket Mode servers, the job worker, the worker process,
housekeeping and the execution of approved requests.

May import every sub-package below it (``slack``, ``commands``, ``ops``, ``config``) and the
wiring (``bot.runtime``); never ``bot.cli``.
"""
