"""Microsoft cloud plumbing shared by the Exchange REST transport and Microsoft Graph reads.

Knows nothing of Slack or of the database. ``AccessTokens`` is the seam between the token
source (msal with a certificate) and the HTTPS clients that send bearer tokens.
"""

from providers.microsoft.tokens import AccessTokens

__all__ = ["AccessTokens"]
