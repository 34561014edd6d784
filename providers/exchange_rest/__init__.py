"""Exchange Online over HTTPS: the REST cmdlet endpoint the V3 module uses, no Windows host.

``client`` speaks InvokeCommand and $batch (throttling, paging, deadlines); ``mailboxes`` runs
the resolve / change / read-back phases; ``provider`` is the Provider. Tokens come from a
``providers.microsoft.AccessTokens``; this package never sees a certificate.
"""

from providers.exchange_rest.provider import ExchangeRestProvider

__all__ = ["ExchangeRestProvider"]
