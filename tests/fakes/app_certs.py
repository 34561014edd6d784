"""App certificates for tests: self-signed RSA, as ``New-SelfSignedCertificate`` or
``openssl req -x509`` make them for an Entra ID app registration, written as PEM (key and
certificate in one file, the key optionally encrypted) or PKCS#12."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

__all__ = ["AppCert", "make_app_cert"]


@dataclass(frozen=True)
class AppCert:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def key_pem(self, password: str | None = None) -> str:
        encryption = (
            serialization.BestAvailableEncryption(password.encode())
            if password
            else serialization.NoEncryption()
        )
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ).decode()

    def write_pem(self, path: Path, password: str | None = None) -> Path:
        path.write_text(self.key_pem(password) + self.cert_pem)
        return path

    def write_pfx(self, path: Path, password: str | None = None) -> Path:
        encryption = (
            serialization.BestAvailableEncryption(password.encode())
            if password
            else serialization.NoEncryption()
        )
        blob = pkcs12.serialize_key_and_certificates(
            b"smtp-bot", self.key, self.cert, None, encryption
        )
        path.write_bytes(blob)
        return path


@lru_cache(maxsize=8)
def make_app_cert(name: str = "smtp-bot", *, days: int = 365) -> AppCert:
    """A self-signed RSA-2048 certificate (cached per name: key generation is slow)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return AppCert(key, cert)
