# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Generate the labeled redaction corpus (synthetic, realistic, deterministic).

Writes, beside this file:

* ``positives.ndjson``: ``{"kind", "text", "values"}``: free text holding sensitive ``values`` of
  ``kind`` (emails, SSNs, cards, phones, IBANs, IP addresses, secrets of each kind), and for some a
  ``kept`` list of what must survive (the host of a connection URL);
* ``negatives.ndjson``: ``{"category", "text"}``: near misses that must come out unchanged (trace and
  span ids, UUIDs, digests, timestamps, order/ticket ids, versions, Luhn-failing card-like numbers,
  invalid-area SSN-like numbers, bad-checksum IBANs, dates, prices...);
* ``structured.ndjson``: ``{"value", "secrets", "kinds"}``: JSON values (nested dicts, lists, JSON
  inside strings) whose ``secrets`` must not survive redaction.

Every checksum is computed here (Luhn, ISO 7064 mod-97), independently of the package's own code.
Run ``python tests/redaction/corpus/generate.py`` to regenerate; the output is committed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
rng = random.Random(20240515)

FIRST = ["jane", "john", "maria", "wei", "aisha", "lars", "sofia", "raj", "chen", "olga", "pedro",
         "fatima", "liam", "noah", "emma", "yuki", "ahmed", "zoe", "ivan", "grace"]  # fmt: skip
LAST = ["doe", "smith", "garcia", "zhang", "khan", "nielsen", "rossi", "patel", "li", "ivanova",
        "silva", "haddad", "obrien", "muller", "tanaka", "hassan", "martin", "kowalski"]  # fmt: skip
DOMAINS = ["example.com", "corp.example.org", "mail.example.co.uk", "hospital.example.net",
           "example.io", "bank.example.de", "uni.example.edu", "example.travel", "sub.example.fr"]  # fmt: skip


def luhn_complete(prefix: str, length: int) -> str:
    """``prefix`` padded with random digits to ``length`` with a valid Luhn check digit."""
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def group(number: str, sizes: list[int], sep: str) -> str:
    parts, i = [], 0
    for size in sizes:
        parts.append(number[i : i + size])
        i += size
    if i < len(number):
        parts.append(number[i:])
    return sep.join(parts)


def mod97(digits: str) -> int:
    remainder = 0
    for ch in digits:
        remainder = (remainder * 10 + int(ch)) % 97
    return remainder


def iban_digits(text: str) -> str:
    return "".join(str(int(ch, 36)) for ch in text)


# (country, BBAN layout: n = digits, a = capitals, c = alphanumeric capitals)
IBAN_LAYOUTS = {
    "DE": "n" * 18, "GB": "aaaa" + "n" * 14, "FR": "n" * 10 + "c" * 11 + "nn", "ES": "n" * 20,
    "IT": "a" + "n" * 10 + "c" * 12, "NL": "aaaa" + "n" * 10, "BE": "n" * 12, "CH": "n" * 5 + "c" * 12,
    "AT": "n" * 16, "PL": "n" * 24, "SE": "n" * 20, "NO": "n" * 11, "DK": "n" * 14,
    "IE": "aaaa" + "n" * 14, "PT": "n" * 21, "FI": "n" * 14, "LU": "nnn" + "c" * 13,
    "SA": "nn" + "c" * 18, "BR": "n" * 23 + "ac", "TR": "n" * 5 + "0" + "c" * 16,
}  # fmt: skip


def make_iban(country: str, valid: bool = True) -> str:
    pools = {
        "n": string.digits,
        "a": string.ascii_uppercase,
        "c": string.digits + string.ascii_uppercase,
    }
    bban = "".join(ch if ch == "0" else rng.choice(pools[ch]) for ch in IBAN_LAYOUTS[country])
    check = 98 - mod97(iban_digits(bban + country) + "00")
    if not valid:
        check = (check + rng.randint(1, 96)) % 97 + 2
        if 98 - mod97(iban_digits(bban + country) + "00") == check:
            check = check % 97 + 2
    return f"{country}{check:02d}{bban}"


def iban_is_valid(iban: str) -> bool:
    return mod97(iban_digits(iban[4:] + iban[:4])) == 1


def spaced(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def rand_token(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    while True:
        token = "".join(rng.choice(alphabet) for _ in range(n))
        if (
            any(c.isdigit() for c in token)
            and any(c.isupper() for c in token)
            and any(c.islower() for c in token)
        ):
            return token


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def person() -> tuple[str, str]:
    return rng.choice(FIRST), rng.choice(LAST)


# --- positives --------------------------------------------------------------------------------
def emails() -> list[str]:
    out = []
    for i in range(70):
        first, last = person()
        style = i % 7
        local = [f"{first}.{last}", f"{first}{last}{rng.randint(1, 99)}", f"{first[0]}{last}",
                 f"{first}+audit@", f"{first}_{last}", f"{first.upper()}.{last.capitalize()}",
                 f"{last}-{first}"][style].rstrip("@")  # fmt: skip
        out.append(f"{local}@{rng.choice(DOMAINS)}")
    return out


def ssns() -> list[str]:
    out = []
    while len(out) < 60:
        area = rng.randint(1, 899)
        if area == 666:
            continue
        digits = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
        fmt = len(out) % 3
        out.append(
            [
                f"{digits[:3]}-{digits[3:5]}-{digits[5:]}",
                f"{digits[:3]} {digits[3:5]} {digits[5:]}",
                digits,
            ][fmt]
        )
    return out


CARD_BRANDS = [("4", 16), ("4", 13), ("4", 19), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16),
               ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3530", 16), ("3589", 16),
               ("36", 14), ("62", 16), ("5018", 16), ("644", 16)]  # fmt: skip


def card_format(number: str, style: int) -> str:
    n = len(number)
    if style == 0 or n not in (14, 15, 16):
        return number
    sep = " " if style == 1 else "-"
    if n == 16:
        return group(number, [4, 4, 4, 4], sep)
    return group(number, [4, 6, 5] if n == 15 else [4, 6, 4], sep)


def cards() -> list[str]:
    out = []
    for i in range(90):
        prefix, length = CARD_BRANDS[i % len(CARD_BRANDS)]
        out.append(card_format(luhn_complete(prefix, length), (i // len(CARD_BRANDS)) % 3))
    return out


def phones() -> list[tuple[str, str]]:
    """(text-ready phone, how it is introduced)"""
    out: list[tuple[str, str]] = []
    for i in range(40):
        a, e, n = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
        a = a if a % 100 != 11 else a + 1
        out.append(([f"({a}) {e}-{n:04d}", f"{a}-{e}-{n:04d}", f"{a}.{e}.{n:04d}", f"+1 {a} {e} {n:04d}",
                     f"1-{a}-{e}-{n:04d}", f"+1{a}{e}{n:04d}", f"+1 ({a}) {e}-{n:04d}", f"{a} {e} {n:04d}"][i % 8], ""))  # fmt: skip
    intl = ["+44 20 7946 {:04d}", "+33 1 23 45 {:02d} 89", "+49 30 1234{:04d}", "+81 3-1234-{:04d}",
            "+61 2 9876 {:04d}", "+91 98765 4{:04d}", "+55 11 91234-{:04d}", "0044 20 7946 {:04d}",
            "+34 612 34 {:02d} 78", "+39 06 6982 {:04d}", "+31 20 794 {:04d}", "+353 1 234 {:04d}",
            "+27 21 123 {:04d}", "+86 10 8888 {:04d}", "+52 55 1234 {:04d}"]  # fmt: skip
    for i in range(30):
        out.append(
            (
                intl[i % len(intl)].format(
                    rng.randint(0, 99 if "{:02d}" in intl[i % len(intl)] else 9999)
                ),
                "",
            )
        )
    for i in range(10):
        local = ["020 7946 {:04d}", "01 23 45 67 {:02d}", "030 1234{:04d}", "06 1234 {:04d}", "(02) 9876 {:04d}"][i % 5]  # fmt: skip
        out.append((local.format(rng.randint(10, 99) if "{:02d}" in local else rng.randint(0, 9999)),
                    ["Tel: ", "phone: ", "Mobile ", "call me on cell ", "Fax: "][i % 5]))  # fmt: skip
    return out


def ibans() -> list[str]:
    countries = list(IBAN_LAYOUTS)
    out = []
    for i in range(60):
        iban = make_iban(countries[i % len(countries)])
        assert iban_is_valid(iban)
        out.append(spaced(iban) if i % 2 else iban)
    return out


def ips() -> list[str]:
    out = []
    for i in range(30):
        if i % 3 == 0:
            out.append(f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
        elif i % 3 == 1:
            out.append(f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
        else:
            out.append(
                f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            )
    for i in range(24):
        groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
        style = i % 4
        if style == 0:
            out.append(":".join(groups))
        elif style == 1:
            out.append(f"2001:db8:{groups[2]}::{groups[7]}")
        elif style == 2:
            out.append(f"fe80::{groups[4]}:{groups[5]}:{groups[6]}:1{groups[7][:3]}")
        else:
            out.append(
                f"::ffff:{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            )
    return out


def jwt() -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": str(rng.randint(10**9, 10**10)), "name": " ".join(person()),
                                 "iat": 1516239022 + rng.randint(0, 10**6)}).encode())  # fmt: skip
    return f"{header}.{payload}.{b64url(rng.randbytes(32))}"


def secrets() -> list[tuple[str, str, str]]:
    """(kind, secret value, sentence template with {})"""
    out: list[tuple[str, str, str]] = []
    for i in range(12):
        key = [f"sk-proj-{rand_token(48, string.ascii_letters + string.digits + '_-')}",
               f"sk-{rand_token(48)}", f"sk-ant-api03-{rand_token(93, string.ascii_letters + string.digits + '_-')}AA",
               f"sk-svcacct-{rand_token(40)}"][i % 4]  # fmt: skip
        out.append(("api_key", key, ["OPENAI_API_KEY={}", "use key {} for the call", "export ANTHROPIC_KEY='{}'", "client = OpenAI(api_key=\"{}\")"][i % 4]))  # fmt: skip
    for i in range(6):
        out.append(("api_key", [f"sk_live_{rand_token(24)}", f"AIza{rand_token(35, string.ascii_letters + string.digits + '_-')}"][i % 2],
                    "stripe/google key: {}"))  # fmt: skip
    for i in range(10):
        prefix = ["AKIA", "ASIA", "AROA"][i % 3]
        out.append(("aws_access_key", prefix + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
                    ["aws_access_key_id = {}", "found {} in the logs", "AWS key id: {}"][i % 3]))  # fmt: skip
    for i in range(6):
        secret = "".join(rng.choice(string.ascii_letters + string.digits + "/+") for _ in range(40))
        out.append(("aws_secret_key", secret, ["aws_secret_access_key = {}", "AWS_SECRET_ACCESS_KEY={}", 'aws.secret_key: "{}"'][i % 3]))  # fmt: skip
    for i in range(10):
        tok = [f"ghp_{rand_token(36)}", f"gho_{rand_token(36)}", f"github_pat_{rand_token(22)}_{rand_token(59)}", f"ghs_{rand_token(36)}"][i % 4]  # fmt: skip
        out.append(("github_token", tok, ["git clone https://x:{}@github.com/org/repo", "GITHUB_TOKEN={}", "token {} leaked in CI"][i % 3]))  # fmt: skip
    for i in range(8):
        tok = [f"xoxb-{rng.randint(10**10, 10**11)}-{rng.randint(10**10, 10**11)}-{rand_token(24)}",
               f"xoxp-{rng.randint(10**10, 10**11)}-{rand_token(30)}",
               f"https://hooks.slack.com/services/T{rand_token(8).upper()}/B{rand_token(8).upper()}/{rand_token(24)}"][i % 3]  # fmt: skip
        out.append(("slack_token", tok, ["slack: {}", "posting with {} now"][i % 2]))
    for i in range(10):
        out.append(("jwt", jwt(), ["id_token={}", "the session cookie was {}", "jwt: {}"][i % 3]))
    for i in range(10):
        tok = [
            rand_token(40, string.ascii_letters + string.digits + "-._~+/"),
            jwt(),
            f"ya29.{rand_token(60)}",
        ][i % 3]
        out.append(("bearer_token", tok, ["Authorization: Bearer {}", "curl -H 'Authorization: Bearer {}' https://api.example.com", "sent bearer {}"][i % 3]))  # fmt: skip
    for i in range(12):
        pw = (
            rand_token(14, string.ascii_letters + string.digits + "!$*")
            if i % 2
            else f"{rng.choice(FIRST)}{rng.randint(1000, 9999)}!"
        )
        url = ["postgresql://app:{}@db.internal:5432/orders", "mysql://root:{}@10.0.0.5/shop", "redis://:{}@cache:6379/0",
               "amqp://guest:{}@rabbit:5672/", "mongodb+srv://svc:{}@cluster0.example.net/test", "https://admin:{}@intranet.example.com/"][i % 6]  # fmt: skip
        out.append(
            ("url_password", pw, "DATABASE_URL=" + url if i % 3 == 0 else "connecting to " + url)
        )
    for i in range(4):
        body = "\n".join(base64.b64encode(rng.randbytes(48)).decode() for _ in range(6))
        kind = ["RSA ", "EC ", "", "OPENSSH "][i]
        out.append(
            (
                "private_key",
                f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----",
                "key file:\n{}\n",
            )
        )
    for i in range(12):
        pw = (
            rand_token(12, string.ascii_letters + string.digits + "!@#%")
            if i % 2
            else f"Summer{rng.randint(2000, 2030)}!"
        )
        out.append(("secret_assignment", pw, ["password={}", "login failed for user bob with password: {}", "PASSWORD='{}'",
                                              "?user=bob&token={}&page=2", "db_password = \"{}\"", "client_secret: {}"][i % 6]))  # fmt: skip
    return out


SENTENCES = {
    "email": [
        "Please contact {} about the refund.",
        "email: {}",
        "From: {} (customer)",
        "cc {}; thanks",
        "<{}>",
        "reach me at {}.",
    ],
    "ssn": ["SSN {} on file", "social security number: {}", "patient ssn={}", "SSN: {}."],
    "credit_card": [
        "card {} expires 04/27",
        "Charge {} for $59.90",
        "cc={}",
        "the card number is {}.",
        "paid with {} yesterday",
    ],
    "phone": [
        "call {} after 5pm",
        "phone: {}",
        "Contact: {}.",
        "mobile {}, thanks",
        "reach the clinic at {}",
    ],
    "iban": ["IBAN {} (Deutsche Bank)", "wire to {}.", "account: {}", "refund to IBAN: {} please"],
    "ip_address": [
        "request from {} blocked",
        "client ip {}",
        "ssh root@{} failed",
        "X-Forwarded-For: {}",
        "login from [{}]",
    ],
}


def positives() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(kind: str, value: str, template: str | None = None) -> None:
        template = template or rng.choice(SENTENCES[kind])
        rows.append({"kind": kind, "text": template.format(value), "values": [value]})

    for v in emails():
        add("email", v)
    for i, v in enumerate(ssns()):
        if v.isdigit():
            add("ssn", v, ["SSN {}", "ssn: {}", "Social Security Number: {}"][i % 3])
        else:
            add("ssn", v)
    for v in cards():
        add("credit_card", v)
    for v, intro in phones():
        add("phone", v, intro + "{}" if intro else None)
    for v in ibans():
        add("iban", v)
    for v in ips():
        add("ip_address", v)
    for kind, value, template in secrets():
        add(kind, value, template)
    rows.extend(review_positives())
    rows.extend(profile_positives())
    return rows


# --- negatives --------------------------------------------------------------------------------
def negatives() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(category: str, text: str) -> None:
        rows.append({"category": category, "text": text})

    for _ in range(40):
        add("trace_id", f"trace_id={rng.randbytes(16).hex()} span_id={rng.randbytes(8).hex()}")
    for _ in range(20):
        add("traceparent", f"traceparent: 00-{rng.randbytes(16).hex()}-{rng.randbytes(8).hex()}-01")
    for _ in range(30):
        add("uuid", f"request {uuid.UUID(bytes=rng.randbytes(16), version=4)} accepted")
    for i in range(30):
        data = rng.randbytes(32)
        digest = [
            hashlib.sha256(data).hexdigest(),
            hashlib.sha1(data).hexdigest(),
            hashlib.md5(data).hexdigest(),
        ][i % 3]
        add("hex_digest", f"sha: {digest}")
    for _ in range(20):
        add(
            "git_sha",
            f"commit {rng.randbytes(20).hex()} (HEAD -> main), short {rng.randbytes(4).hex()[:7]}",
        )
    for i in range(30):
        y, m, d = rng.randint(2000, 2030), rng.randint(1, 12), rng.randint(1, 28)
        hh, mm, ss = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        add("timestamp", [f"{y}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}Z",
                          f"{y}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}.{rng.randint(0, 999999):06d}+00:00",
                          f"{y}-{m:02d}-{d:02d} {hh:02d}:{mm:02d}:{ss:02d}",
                          f"at {hh:02d}:{mm:02d}:{ss:02d} UTC+05:30",
                          f"{y}{m:02d}{d:02d}T{hh:02d}{mm:02d}{ss:02d}Z"][i % 5])  # fmt: skip
    for i in range(20):
        y, m, d = rng.randint(1950, 2030), rng.randint(1, 12), rng.randint(1, 28)
        add(
            "date",
            [
                f"due {y}-{m:02d}-{d:02d}",
                f"on {m:02d}/{d:02d}/{y}",
                f"le {d:02d}.{m:02d}.{y}",
                f"{d} Mar {y}",
            ][i % 4],
        )
    for i in range(20):
        add("epoch", [f"ts={rng.randint(1_500_000_000, 1_800_000_000)}", f"ts_ms={rng.randint(1_500_000_000_000, 1_800_000_000_000)}",
                      f"ts_ns={rng.randint(1_500_000_000 * 10**9, 1_800_000_000 * 10**9)}"][i % 3])  # fmt: skip
    for i in range(30):
        add("order_id", [f"ORD-{rng.randint(10000, 99999)}", f"order INV-{rng.randint(2000, 2030)}-{rng.randint(1, 99999):05d}",
                         f"ticket JIRA-{rng.randint(1, 9999)}", f"PROJ-{rng.randint(100, 99999)} is blocked",
                         f"case #{rng.randint(100000, 9999999)}", f"RMA{rng.randint(10**7, 10**8)}"][i % 6])  # fmt: skip
    for i in range(25):
        a, b, c = rng.randint(0, 30), rng.randint(0, 99), rng.randint(0, 999)
        add("version", [f"{a}.{b}.{c}", f"v{a}.{b}.{c}-beta.{rng.randint(1, 9)}", f"{a}.{b}.{c}+build.{rng.randint(1, 999)}",
                        f"requests=={a}.{b}.{c}", f"v{a}.{b}.{c}.{rng.randint(0, 9)}"][i % 5])  # fmt: skip
    for i in range(40):
        prefix, length = CARD_BRANDS[i % len(CARD_BRANDS)]
        number = luhn_complete(prefix, length)
        bad = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
        assert not luhn_valid(bad)
        add("card_luhn_fail", f"ref {card_format(bad, i % 3)}")
    for _ in range(15):
        number = luhn_complete(rng.choice(["1", "7", "8", "9"]), 16)
        add("luhn_no_issuer", f"tracking {number}")
    for i in range(25):
        area = (
            ["000", "666", f"9{rng.randint(0, 99):02d}"][i % 3]
            if i < 18
            else f"{rng.randint(1, 899):03d}"
        )
        grp = f"{rng.randint(1, 99):02d}" if i < 18 or i % 2 else "00"
        serial = f"{rng.randint(1, 9999):04d}" if i < 18 or not i % 2 else "0000"
        if area == "666" and i >= 18:
            area = "123"
        add("ssn_invalid", f"SSN {area}-{grp}-{serial}")
    for i in range(20):
        add(
            "iban_bad_checksum",
            f"IBAN {make_iban(list(IBAN_LAYOUTS)[i % len(IBAN_LAYOUTS)], valid=False)}",
        )
    for i in range(25):
        add("price", [f"${rng.randint(1, 99999):,}.{rng.randint(0, 99):02d}", f"€{rng.randint(1, 999)},{rng.randint(0, 99):02d}",
                      f"total 1.234.{rng.randint(100, 999)},00 EUR", f"{rng.randint(1, 100)}% off", f"{rng.random() * 1000:.4f} USD"][i % 5])  # fmt: skip
    for i in range(20):
        add("duration", [f"took {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}", f"{rng.randint(1, 999)}ms",
                         "ratio 16:9", f"at 12:{rng.randint(10, 59)}", f"PT{rng.randint(1, 48)}H{rng.randint(0, 59)}M"][i % 5])  # fmt: skip
    for i in range(15):
        add("model", ["gpt-4.1", "gpt-4o-mini-2024-07-18", "claude-3-5-sonnet-20241022", "gemini-2.0-flash-001",
                      "text-embedding-3-large", "o3-mini"][i % 6])  # fmt: skip
    for i in range(20):
        add("url", [f"https://api.example.com/v1/orders/{rng.randint(1, 99999)}?expand=items",
                    f"GET /v1/customers/cus_{rand_token(14)} 200", "https://github.com/open-telemetry/opentelemetry-python",
                    f"s3://bucket/reports/{rng.randint(2020, 2030)}/q{rng.randint(1, 4)}.csv", "http://localhost:8080/health"][i % 5])  # fmt: skip
    for i in range(15):
        add("k8s", [f"pod api-{rng.randbytes(5).hex()[:9]}-{rand_token(5).lower()}", f"container {rng.randbytes(32).hex()}",
                    f"node ip-10-0-{rng.randint(0, 255)}-{rng.randint(0, 255)}.ec2.internal"][i % 3])  # fmt: skip
    for i in range(15):
        add("misc_numbers", [f"zip {rng.randint(10000, 99999)}", f"ext. {rng.randint(100, 9999)}", "postcode SW1A 1AA",
                             f"{rng.randint(1, 999)} items in {rng.randint(1, 99)} boxes", f"error 0x{rng.randint(0, 2**32):08X}",
                             "pi is 3.14159265358979"][i % 6])  # fmt: skip
    for i in range(15):
        add("prose", ["The quick brown fox jumps over the lazy dog.", "Your order has shipped and should arrive Tuesday.",
                      "Password reset emails are sent within 5 minutes.", "Use a token bucket to rate limit.",
                      "The secret to good soup is patience.", "Bearer bonds were common in the 1980s.",
                      "Tokens: 1523 in, 211 out."][i % 7])  # fmt: skip
    for i in range(10):
        add("code", ["for x in a[::2]: print(x)", "std::vector<int> v; v.push_back(1);", "def f(password: str) -> None: ...",
                     "if (token == null) return;", "x = {'a': 1, 'b': [1, 2, 3]}"][i % 5])  # fmt: skip
    for i in range(10):
        add(
            "loopback",
            ["listening on 127.0.0.1:8080", "bind 0.0.0.0", "connect to [::1]:4317"][i % 3],
        )
    for _ in range(10):
        add("base64", f"payload {base64.b64encode(rng.randbytes(24)).decode()}")
    for i in range(10):
        chrome = f"{rng.randint(100, 131)}.0.{rng.randint(1000, 6999)}.{rng.randint(10, 200)}"
        add("user_agent", [f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome} Safari/537.36",
                           f"Mozilla/5.0 (X11; Linux x86_64) Chrome/{rng.randint(100, 131)}.0.0.0 Safari/537.36",
                           f"python-requests/2.{rng.randint(20, 32)}.0", f"SupportDashboard/{rng.randint(1, 9)}.{rng.randint(0, 9)}",
                           f"okhttp/4.{rng.randint(1, 12)}.{rng.randint(0, 9)} Dalvik/2.1.0"][i % 5])  # fmt: skip
    rows.extend(review_negatives())
    rows.extend(profile_negatives())
    return rows


# --- rows added after the second review -----------------------------------------------------------
# They draw from their own generator, so every row above stays as it was.
review_rng = random.Random(20250601)


def review_token(n: int, alphabet: str = string.ascii_lowercase) -> str:
    return "".join(review_rng.choice(alphabet) for _ in range(n))


def review_positives() -> list[dict[str, Any]]:
    """Basic credentials, cookie headers, pwd=/pass= assignments, connection URLs whose host must
    survive (``kept``), and prefixed API keys whose remainder is low-entropy."""
    rows: list[dict[str, Any]] = []
    for i in range(10):
        user, pw = rng_user(), review_token(10, string.ascii_letters + string.digits + "!$")
        creds = base64.b64encode(f"{user}:{pw}".encode()).decode()
        template = ["Authorization: Basic {}", "Proxy-Authorization: Basic {}",
                    "curl -H 'Authorization: Basic {}' https://api.example.com/v1/orders",
                    "headers={{'Authorization': 'Basic {}'}}", "> authorization: basic {}",
                    "proxy sent basic {} upstream"][i % 6]  # fmt: skip
        rows.append({"kind": "basic_auth", "text": template.format(creds), "values": [creds]})
    for i in range(10):
        token = review_token(32, string.ascii_letters + string.digits)
        template = ["Cookie: session={}; theme=dark", "Set-Cookie: sid={}; Path=/; HttpOnly; Secure",
                    "> Cookie: _ga=GA1.2.1; session_id={}", "headers: {{'Cookie': 'auth={}'}}",
                    "< set-cookie: remember_me={}; Max-Age=2592000"][i % 5]  # fmt: skip
        rows.append({"kind": "cookie", "text": template.format(token), "values": [token]})
    for i in range(10):
        pw = review_token(10, string.ascii_letters + string.digits + "!#%")
        template = ["pwd={}", "MYSQL_PWD={}", "db_pass: {}", "PASS='{}'", 'pass => "{}"',
                    "login(user, pass={})", "export REDIS_PASS={}", "smtp_pwd = {}"][i % 8]  # fmt: skip
        rows.append({"kind": "secret_assignment", "text": template.format(pw), "values": [pw]})
    for i in range(8):
        pw = review_token(12, string.ascii_letters + string.digits)
        host = ["cluster0.ab1cd.mongodb.net", "db.internal", "prod-db.example.org:5432", "cache.example.com:6379"][i % 4]  # fmt: skip
        url = ["mongodb+srv://admin:{}@{}/orders", "postgresql://app:{}@{}/shop",
               "mysql://root:{}@{}/crm", "rediss://default:{}@{}/0"][i % 4]  # fmt: skip
        rows.append(
            {"kind": "url_password", "text": "connecting to " + url.format(pw, host), "values": [pw], "kept": [host]}
        )  # fmt: skip
    for i in range(8):
        key = [f"sk-proj-{review_token(48)}", f"sk-ant-api03-{review_token(95, string.ascii_lowercase + '-')}",
               f"sk-svcacct-{review_token(40, string.ascii_lowercase + string.digits)}",
               f"sk-admin-{review_token(40, 'abcdef0123456789')}"][i % 4]  # fmt: skip
        rows.append({"kind": "api_key", "text": ["OPENAI_API_KEY={}", "key: {}"][i % 2].format(key), "values": [key]})  # fmt: skip
    return rows


def rng_user() -> str:
    return review_rng.choice(FIRST) + review_rng.choice(["", ".", "_"]) + review_rng.choice(LAST)


def review_negatives() -> list[dict[str, Any]]:
    """Near misses of the rows above: the word "basic", cookies without a header, "pass" inside
    words and as a verdict, a working directory, sk- words and short prefixed names."""
    texts = {
        "basic_word": ["basic configuration is enough", "Basic plan: $10/month", "the basic idea is simple",
                       "basic auth is disabled on this route", "BASIC interpreter v2.0", "Authorization: required"],
        "cookie_word": ["Cookie: chocolate chip", "cookie policy: we use cookies", "cookies: 3 set",
                        "Cookie consent banner shown", "cookie: none"],
        "pass_word": ["bypass=1", "compass: north-east", "test pass: 5/5", "passed: 12", "pass=true",
                      "surpass: none", "passport: required", "PWD=/home/app", "pwd: /srv/app/current",
                      "cd $PWD && make"],
        "sk_word": ["sk-learn-compatible-estimator-wrapper", "sk-proj-frontend-team-config",
                    "disk-admin-tools-for-cluster-maintenance-and-backup", "task-proj-planning-board-for-the-q3-roadmap-review"],
        "url_no_password": ["mongodb+srv://cluster0.ab1cd.mongodb.net/orders", "postgresql://db.internal:5432/shop"],
    }  # fmt: skip
    return [
        {"category": category, "text": text} for category, items in texts.items() for text in items
    ]


# --- rows for the redaction profiles (hipaa, pci) ----------------------------------------------------
# A row with a "profile" is scored under that profile; negatives must stay unchanged under every one.
profile_rng = random.Random(20261207)
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]  # fmt: skip


def profile_luhn(prefix: str, length: int) -> str:
    """As :func:`luhn_complete`, from this section's own generator."""
    while True:
        body = prefix + "".join(
            profile_rng.choice(string.digits) for _ in range(length - len(prefix))
        )
        if luhn_valid(body):
            return body


def profile_positives() -> list[dict[str, Any]]:
    """Medical record numbers (every profile), dates of birth (hipaa), track data, card
    verification codes and expiry dates (pci)."""
    rows: list[dict[str, Any]] = []
    for i in range(20):
        mrn = [f"{profile_rng.randint(0, 99999999):08d}", f"A{profile_rng.randint(10**6, 10**7 - 1)}",
               f"{profile_rng.randint(100, 999)}-{profile_rng.randint(1000, 9999)}",
               f"00{profile_rng.randint(100000, 999999)}"][i % 4]  # fmt: skip
        template = ["MRN {}", "patient MRN: {} admitted", "mrn={}", "Medical record number {} on file",
                    "MRN#{}, bed 4", "medical record no. {}"][i % 6]  # fmt: skip
        rows.append({"kind": "mrn", "text": template.format(mrn), "values": [mrn]})
    for i in range(24):
        y, m, d = (
            profile_rng.randint(1930, 2015),
            profile_rng.randint(1, 12),
            profile_rng.randint(1, 28),
        )
        dob = [f"{y}-{m:02d}-{d:02d}", f"{m:02d}/{d:02d}/{y}", f"{d:02d}.{m:02d}.{y}",
               f"{MONTH_NAMES[m - 1]} {d}, {y}", f"{d} {MONTH_NAMES[m - 1][:3]} {y}", f"{m}/{d}/{y % 100:02d}"][i % 6]  # fmt: skip
        template = ["DOB: {}", "patient born {} in Lyon", "date of birth {}", "d.o.b. {}",
                    "Born on {}, male", "birthdate={}", "dob {} per chart", "Date of Birth: {}"][i % 8]  # fmt: skip
        rows.append(
            {
                "kind": "date_of_birth",
                "profile": "hipaa",
                "text": template.format(dob),
                "values": [dob],
            }
        )
    for i in range(12):
        pan = profile_luhn(["4", "51", "37", "6011"][i % 4], [16, 16, 15, 16][i % 4])
        yymm = f"{profile_rng.randint(25, 35)}{profile_rng.randint(1, 12):02d}"
        disc = "".join(profile_rng.choice(string.digits) for _ in range(profile_rng.randint(8, 16)))
        first, last = profile_rng.choice(FIRST), profile_rng.choice(LAST)
        track = (f"%B{pan}^{last.upper()}/{first.upper()}^{yymm}101{disc}?" if i % 2
                 else f";{pan}={yymm}101{disc}?")  # fmt: skip
        template = ["swipe: {}", "raw track {} from reader 3", "{}"][i % 3]
        rows.append(
            {
                "kind": "track_data",
                "profile": "pci",
                "text": template.format(track),
                "values": [track, pan],
            }
        )
    for i in range(12):
        code = (
            f"{profile_rng.randint(0, 999):03d}" if i % 3 else f"{profile_rng.randint(0, 9999):04d}"
        )
        template = ["CVV: {}", "cvv2 {}", "CVC={}", "security code {} given", "card verification value: {}",
                    "cid {} (amex)"][i % 6]  # fmt: skip
        rows.append(
            {
                "kind": "card_verification",
                "profile": "pci",
                "text": template.format(code),
                "values": [code],
            }
        )
    for i in range(12):
        mm, yy = profile_rng.randint(1, 12), profile_rng.randint(25, 35)
        exp = [f"{mm:02d}/{yy}", f"{mm:02d}/20{yy}", f"{mm:02d}-{yy}", f"{mm:02d} / {yy}"][i % 4]
        template = ["exp {}", "expiry: {}", "Expires {}", "valid thru {}", "expiration date {}",
                    "card exp. {}"][i % 6]  # fmt: skip
        rows.append(
            {"kind": "card_expiry", "profile": "pci", "text": template.format(exp), "values": [exp]}
        )
    return rows


def profile_negatives() -> list[dict[str, Any]]:
    """Near misses of the profile rows: "MRN" without a number, birth years and other dates,
    experiment and export words, codes that are not a card's."""
    texts = {
        "mrn_word": ["MRN pending", "MRN lookup failed: no match", "mrn: unknown", "medical record review due",
                     "MRN field is required"],
        "birth_word": ["born in 1984", "birthday party on Friday", "DOB unknown", "date of birth: not given",
                       "first-born child", "reborn 2.0 release"],
        "exp_word": ["experiment 12/24 done", "export 04/27 report", "exp(2) = 7.389", "expected 3 items",
                     "valid json", "good thru traffic", "expires in 30 days"],
        "code_word": ["cid=abc-def", "security code review on 12/04", "CVV field missing", "cvc: none",
                      "security codes 1.2.3"],
        "track_like": ["%BUILD_DIR%", "a=1;b=2;c=3", "key;value=1234"],
    }  # fmt: skip
    return [
        {"category": category, "text": text} for category, items in texts.items() for text in items
    ]


# --- structured ---------------------------------------------------------------------------------
def structured() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(30):
        first, last = person()
        email = f"{first}.{last}@{rng.choice(DOMAINS)}"
        card = card_format(luhn_complete("4", 16), i % 3)
        pw, key = rand_token(12), f"sk-proj-{rand_token(40)}"
        ssn = f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        style = i % 6
        if style == 0:
            value: Any = {
                "user": {"Email": email, "Password": pw},
                "apiKey": key,
                "order_id": f"ORD-{i}",
            }
            secrets_, kinds = [email, pw, key], ["pii_key", "secret_key"]
        elif style == 1:
            value = {
                "payment": {"card_number": card, "cvv": str(rng.randint(100, 999))},
                "amount": 59.9,
            }
            secrets_, kinds = [card], ["secret_key"]
        elif style == 2:
            value = {
                "arguments": json.dumps(
                    {"patient_name": f"{first} {last}", "ssn": ssn, "note": f"call {email}"}
                )
            }
            secrets_, kinds = [f"{first} {last}", ssn, email], ["pii_key", "secret_key", "email"]
        elif style == 3:
            value = [
                {"role": "user", "content": f"my card is {card} and my email {email}"},
                {"role": "assistant", "content": "ok"},
            ]
            secrets_, kinds = [card, email], ["credit_card", "email"]
        elif style == 4:
            value = {
                "headers": {
                    "Authorization": f"Bearer {key}",
                    "X-Api-Key": key,
                    "Cookie": f"session={pw}",
                },
                "status": 200,
            }
            secrets_, kinds = [key, pw], ["secret_key"]
        else:
            value = {"db": f"postgresql://app:{pw}@db:5432/x", "dob": "1984-03-02", "phone_number": "+1 415 555 0132",
                     "nested": {"deeper": {"client_secret": pw, "list": [email, ssn]}}}  # fmt: skip
            secrets_, kinds = (
                [pw, "1984-03-02", "+1 415 555 0132", email, ssn],
                ["email", "pii_key", "secret_key", "ssn", "url_password"],
            )
        rows.append({"value": value, "secrets": secrets_, "kinds": sorted(set(kinds))})
    return rows


def main() -> None:
    for name, rows in (
        ("positives", positives()),
        ("negatives", negatives()),
        ("structured", structured()),
    ):
        with open(HERE / f"{name}.ndjson", "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
