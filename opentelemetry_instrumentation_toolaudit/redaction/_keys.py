# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Which keys name a secret, a linkable personal value, or a network address.

Keys compare in a normal form, whatever their case, separators or camelCase: ``API-Key``,
``api_key``, ``apiKey`` and ``X_API_KEY`` are ``apikey`` / ``xapikey``. Span attribute names go through
the same rules (``http.request.header.authorization`` ends in ``authorization``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

REDACTED = "***REDACTED***"

# Values under these keys become ***REDACTED***.
DEFAULT_SECRET_KEYS = frozenset(
    {
        "password", "passwd", "pwd", "pass", "passphrase", "token", "accesstoken", "refreshtoken",
        "idtoken", "authtoken", "sessiontoken", "bearertoken", "apikey", "xapikey", "apitoken",
        "secret", "clientsecret", "secretkey", "privatekey", "accesskey", "signingkey",
        "encryptionkey", "authorization", "proxyauthorization", "cookie", "setcookie",
        "credentials", "credential", "creditcard", "creditcardnumber", "cardnumber", "ccnumber",
        "pan", "cvv", "cvc", "cvv2", "securitycode", "pin", "ssn", "socialsecuritynumber",
        "taxid", "bankaccount", "accountnumber", "routingnumber", "iban", "connectionstring",
    }
)  # fmt: skip
# A key ending in one of these is a secret too: db_password, stripeApiKey, github_token.
SECRET_SUFFIXES = (
    "password", "passwd", "passphrase", "secret", "token", "apikey", "privatekey", "secretkey",
    "accesskey", "authorization", "cookie", "cardnumber", "creditcard", "ssn",
)  # fmt: skip

# Values under these keys become keyed pseudonyms: hidden, but still linkable.
DEFAULT_PSEUDONYM_KEYS = frozenset(
    {
        "email", "emailaddress", "mail", "phone", "phonenumber", "mobile", "mobilenumber",
        "telephone", "fax", "fullname", "firstname", "lastname", "givenname", "familyname",
        "surname", "middlename", "maidenname", "patientname", "customername", "personname",
        "dob", "dateofbirth", "birthdate", "birthday", "address", "homeaddress",
        "streetaddress", "postaladdress", "mailingaddress", "billingaddress", "shippingaddress",
        "street", "mrn", "medicalrecordnumber", "passportnumber", "driverslicense",
        "licensenumber", "nationalid",
    }
)  # fmt: skip
PSEUDONYM_SUFFIXES = ("email", "emailaddress", "phonenumber", "fullname", "dateofbirth")
# A hash or digest of a secret is a secret (``password_hash`` can be cracked offline); of a personal
# value, a linkable personal value (an unkeyed ``email_sha256`` is reversed by guessing the email).
DERIVED_SUFFIXES = ("hash", "hashed", "digest", "sha256", "sha1", "md5")

# Network addresses that attribute a call (who called from where): kept, pseudonymized or redacted
# as the policy's ``attribution_addresses`` says, whatever the text detectors think.
DEFAULT_ADDRESS_KEYS = frozenset(
    {
        "clientaddress", "clientip", "clientsocketaddress", "sourceaddress", "serveraddress",
        "serversocketaddress", "destinationaddress", "networkpeeraddress", "networklocaladdress",
        "netpeerip", "netsockpeeraddr", "nethostip", "httpclientip", "remoteaddr", "remoteaddress",
    }
)  # fmt: skip

PLAIN, SECRET, PSEUDONYM, ADDRESS = 0, 1, 2, 3

_NON_ALNUM = re.compile(r"[^0-9a-z]")


@functools.lru_cache(maxsize=4096)
def normalize_key(key: str) -> str:
    """``API-Key``, ``api_key``, ``apiKey`` and ``X_API_KEY`` all compare through this form."""
    return _NON_ALNUM.sub("", key.lower())


class KeyRules:
    """Classifies keys as PLAIN, SECRET, PSEUDONYM or ADDRESS, with a bounded cache."""

    __slots__ = ("_addresses", "_cache", "_keep", "_pseudonyms", "_secrets")

    MAX_CACHE = 8192

    def __init__(
        self,
        secret_keys: Iterable[str],
        pseudonym_keys: Iterable[str],
        keep_keys: Iterable[str] = (),
    ) -> None:
        keep = frozenset(normalize_key(k) for k in keep_keys)
        self._keep = keep
        self._secrets = frozenset(normalize_key(k) for k in secret_keys) - keep
        self._pseudonyms = frozenset(normalize_key(k) for k in pseudonym_keys) - keep
        self._addresses = DEFAULT_ADDRESS_KEYS - keep
        self._cache: dict[str, int] = {}

    def classify(self, key: str) -> int:
        """PLAIN, SECRET, PSEUDONYM or ADDRESS for the raw key ``key``."""
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        kind = self._classify(normalize_key(key))
        if len(self._cache) >= self.MAX_CACHE:
            self._cache.clear()
        self._cache[key] = kind
        return kind

    def _classify(self, norm: str) -> int:
        if norm in self._keep:
            return PLAIN
        if norm in self._addresses:
            return ADDRESS
        if norm in self._secrets:
            return SECRET
        if norm in self._pseudonyms:
            return PSEUDONYM
        # Suffix rules only for the default vocabularies: "stripe_api_key", "patient_email".
        if norm.endswith(SECRET_SUFFIXES):
            return SECRET
        if norm.endswith(PSEUDONYM_SUFFIXES):
            return PSEUDONYM
        for suffix in DERIVED_SUFFIXES:
            if norm.endswith(suffix) and len(norm) > len(suffix):
                stem = self._classify(norm[: -len(suffix)])
                if stem != PLAIN and stem != ADDRESS:
                    return stem
        return PLAIN
