"""Back ends (WHM/cPanel, Exchange Online) behind one interface.

Knows nothing of Slack or of the database.
"""

from providers.base import Provider, TargetResult, TargetState
from providers.errors import ProviderError
from providers.targets import CHANGE_VERBS, Scope, Target, Verb

__all__ = [
    "CHANGE_VERBS",
    "Provider",
    "ProviderError",
    "Scope",
    "Target",
    "TargetResult",
    "TargetState",
    "Verb",
]
