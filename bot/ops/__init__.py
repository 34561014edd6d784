"""Operations: structured logs, secret redaction, Prometheus metrics and what they observe.

May import ``bot.config``, ``bot.errors`` and ``bot.tenants``; never Slack listeners or the
wiring (``Observed`` is the protocol metrics read).
"""
