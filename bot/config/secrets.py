"""Secret hygiene at load: a secret made from a file keeps no trailing newline.

A token read with ``$(cat token-file)`` or from a mounted secret often ends in ``\\n``; sent
in a header it becomes ``Illegal header value b'whm root:…\\n'``, an error text that carries
the token into the audit trail. Surrounding whitespace is stripped; a newline or another
control character inside a secret is refused, naming the variable and never the value.
"""

from __future__ import annotations

__all__ = ["clean_secret"]


def clean_secret(name: str, value: str) -> str:
    """``value`` without surrounding whitespace; ValueError (naming ``name``, not the value)
    if a control character is left inside."""
    clean = value.strip()
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in clean):
        raise ValueError(f"{name} contains a newline or another control character inside it")
    return clean
