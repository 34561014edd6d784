"""Configuration: environment settings, the config file's schema, its YAML reader, durations.

Imports nothing of the bot but ``bot.errors`` (and ``approvals.policy`` for tenant policies).
"""
