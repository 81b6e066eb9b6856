# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Certificates made with ``cryptography`` for the TLS tests of ``toolaudit serve`` and the HTTPS
witness: CAs, and certificates for localhost / 127.0.0.1 issued by them."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
) -> x509.Certificate:
    """A certificate for ``name``: a CA's, self-signed, when ``issuer`` is None, else a server or
    client certificate for localhost and 127.0.0.1 signed by ``issuer`` (its certificate, key)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_pki(directory: Path) -> dict[str, Path]:
    """``ca`` (the CA's certificate), ``cert`` and ``key`` (the server's, for 127.0.0.1, issued by
    that CA), and ``other_ca`` (a CA that issued nothing here), as PEM files in ``directory``."""
    paths = {}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("toolaudit witness test CA", ca_key, None)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = certificate("another CA", other_key, None)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = certificate("witness", server_key, (ca, ca_key))
    for name, data in (
        ("ca", ca.public_bytes(serialization.Encoding.PEM)),
        ("other_ca", other.public_bytes(serialization.Encoding.PEM)),
        ("cert", server.public_bytes(serialization.Encoding.PEM)),
        ("key", pem_key(server_key)),
    ):
        paths[name] = directory / f"{name}.pem"
        paths[name].write_bytes(data)
    return paths
