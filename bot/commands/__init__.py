"""What a command means, whoever typed it (Slack or the CLI): the grammar, the service that
checks it against config and back end, the access policy, and the words the bot says.

May import ``bot.config``, ``bot.ops``, ``bot.errors`` and ``bot.tenants``; nothing of Slack.
"""
