"""The Slack surface: Bolt listeners, after-ack tasks, Block Kit views, cards, App Home, approver
DMs, user-group membership and the kept-alive Slack HTTP client.

May import ``bot.commands``, ``bot.config``, ``bot.ops``, ``bot.errors`` and ``bot.tenants``;
never ``bot.running``, ``bot.cli`` or the wiring (``SlackContext`` is what listeners use).
"""
