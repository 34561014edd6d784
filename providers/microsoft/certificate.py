"""The app's certificate, read once from a PEM or PKCS#12 file and checked before use.

The same reader runs when the config loads (so a missing file, a file without its private
key or a wrong password stops the bot before anything starts, naming the key) and when the
token source is built. msal is then handed PEM text either way: PKCS#12 is converted here
with ``cryptography``, so there is one code path to test and no file is re-read later.
Problems are ``CertificateProblem`` (a ValueError) whose text names the file but never the
password or any key material.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

__all__ = ["CertificateProblem", "ClientCertificate", "load_certificate"]

_PEM_KEY_MARKERS = (b"PRIVATE KEY-----",)
_PEM_CERT_MARKER = b"-----BEGIN CERTIFICATE-----"


class CertificateProblem(ValueError):
    """The certificate file cannot be used; the text says why, in an admin's words."""


@dataclass(frozen=True, slots=True, repr=False)
class ClientCertificate:
    """A private key and the certificate registered on the app, as PEM (what msal takes)."""

    private_key_pem: str
    certificate_pem: str
    sha1_thumbprint: str  # uppercase hex, as the Entra admin center shows it
    sha256_thumbprint: str
    not_after: datetime  # UTC
    subject: str

    def __repr__(self) -> str:  # never the key, even in a traceback's locals
        return f"ClientCertificate(subject={self.subject!r}, sha1={self.sha1_thumbprint})"


def load_certificate(path: str | Path, password: str | None = None) -> ClientCertificate:
    """Read ``path`` (PEM with its private key, or PKCS#12/.pfx) and check the pair."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise CertificateProblem(f"{path}: no such file (certificate_path)")
    try:
        data = file.read_bytes()
    except OSError as exc:
        reason = exc.strerror or "unreadable"
        raise CertificateProblem(f"{path}: cannot be read ({reason})") from None
    secret = password.encode() if password else None
    if _PEM_CERT_MARKER in data or any(m in data for m in _PEM_KEY_MARKERS):
        key, cert = _from_pem(str(path), data, secret)
    else:
        key, cert = _from_pkcs12(str(path), data, secret)
    if not isinstance(key, rsa.RSAPrivateKey):  # msal signs with PS256/RS256
        raise CertificateProblem(f"{path}: the private key is not RSA (app certificates use RSA)")
    if _public_bytes(key.public_key()) != _public_bytes(cert.public_key()):
        raise CertificateProblem(f"{path}: the private key does not belong to the certificate")
    return ClientCertificate(
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii"),
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        sha1_thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 (Entra's id)
        sha256_thumbprint=cert.fingerprint(hashes.SHA256()).hex().upper(),
        not_after=cert.not_valid_after_utc,
        subject=cert.subject.rfc4514_string(),
    )


def _from_pem(path: str, data: bytes, password: bytes | None) -> tuple[object, x509.Certificate]:
    if not any(m in data for m in _PEM_KEY_MARKERS):
        raise CertificateProblem(
            f"{path}: no private key in the file: put the certificate and its private key in "
            "one PEM file, or use the PKCS#12 (.pfx) export"
        )
    if _PEM_CERT_MARKER not in data:
        raise CertificateProblem(
            f"{path}: a private key but no certificate: add the certificate (BEGIN "
            "CERTIFICATE) to the same PEM file"
        )
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise CertificateProblem(f"{path}: the certificate in the file does not parse") from None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError:  # encrypted without a password, or a password for a plain key
        if password is None:
            raise CertificateProblem(
                f"{path}: the private key is encrypted: set certificate_password"
            ) from None
        raise CertificateProblem(
            f"{path}: the private key is not encrypted, but certificate_password is set: remove it"
        ) from None
    except ValueError:
        if password is not None:
            raise CertificateProblem(
                f"{path}: wrong certificate_password (the private key does not decrypt)"
            ) from None
        raise CertificateProblem(f"{path}: the private key in the file does not parse") from None
    return key, cert


def _from_pkcs12(path: str, data: bytes, password: bytes | None) -> tuple[object, x509.Certificate]:
    try:
        key, cert, _chain = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        if _looks_like_pkcs12(data):
            said = "wrong certificate_password" if password else "certificate_password is needed"
            raise CertificateProblem(
                f"{path}: {said} (the PKCS#12 file does not decrypt)"
            ) from None
        raise CertificateProblem(
            f"{path}: neither PEM nor PKCS#12 (.pfx): export the certificate with its "
            "private key in one of those forms"
        ) from None
    if key is None:
        raise CertificateProblem(
            f"{path}: no private key in the PKCS#12 file: export it with its private key"
        )
    if cert is None:
        raise CertificateProblem(f"{path}: no certificate in the PKCS#12 file")
    return key, cert


def _looks_like_pkcs12(data: bytes) -> bool:
    """A DER SEQUENCE starting with PFX version 3: the file is PKCS#12, just not opened."""
    return len(data) > 8 and data[0] == 0x30 and b"\x02\x01\x03" in data[:8]


def _public_bytes(key: object) -> bytes:
    if not isinstance(key, rsa.RSAPublicKey):
        return b""  # an EC certificate never matches an RSA key
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
