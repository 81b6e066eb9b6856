# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Redaction profiles: the keys and free-text detectors a regulated deployment adds to the defaults.

* ``default``: the built-in vocabularies and detectors alone;
* ``hipaa``: the 18 HIPAA Safe Harbor identifiers (45 CFR §164.514(b)(2)) and clinical keys, and
  dates of birth in free text;
* ``pci``: the PCI DSS cardholder data elements and sensitive authentication data, in keys and in
  free text (track data, card verification codes, expiry dates);
* ``gdpr``: the special categories of personal data (GDPR Art. 9) and criminal records (Art. 10).

Profiles add to each other (``hipaa,pci``). Keys are given in the normal form of ``_keys.py``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable

from opentelemetry_instrumentation_toolaudit.redaction._detectors import PatternDetector

PROFILE_NAMES = ("default", "hipaa", "pci", "gdpr")

# --- HIPAA ---------------------------------------------------------------------------------------
# Safe Harbor identifiers that link records of one person: pseudonymized (hidden, still linkable).
_HIPAA_PSEUDONYM = frozenset(
    {
        # (A) names
        "name", "patient", "patientname", "nextofkin", "guardian", "guardianname",
        "emergencycontact", "emergencycontactname", "physicianname", "caregiver",
        # (B) geographic subdivisions smaller than a state
        "city", "county", "zip", "zipcode", "postalcode", "postcode", "geocode", "latitude",
        "longitude", "coordinates", "location", "homelocation",
        # (C) dates (except year) directly related to an individual, and ages over 89
        "dateofservice", "servicedate", "admissiondate", "admitdate", "dischargedate",
        "dateofdeath", "deathdate", "appointmentdate", "visitdate", "encounterdate", "age",
        # (H) medical record numbers, (I) health plan beneficiary numbers, (J) account numbers
        "patientid", "mrn", "medicalrecordnumber", "medicalrecordid", "chartnumber",
        "insuranceid", "insurancenumber", "memberid", "membernumber", "subscriberid",
        "policynumber", "healthplanid", "beneficiaryid", "medicaidid", "medicareid",
        "groupnumber", "accountid",
        # (K) certificate/license numbers, (L) vehicle and (M) device identifiers
        "certificatenumber", "vin", "vehicleid", "licenseplate", "platenumber", "deviceid",
        "deviceserial", "serialnumber", "udi", "imei",
        # (N) web URLs and (O) IP addresses of the individual, (R) any other unique identifier
        "website", "homepage", "personalurl", "profileurl", "ipaddress",
    }
)  # fmt: skip
# Clinical content and biometric identifiers: removed (nothing to link on).
_HIPAA_REDACT = frozenset(
    {
        "diagnosis", "diagnoses", "condition", "conditions", "medicalcondition", "treatment",
        "treatments", "treatmentplan", "medication", "medications", "prescription",
        "prescriptions", "procedure", "procedures", "labresult", "labresults", "testresult",
        "testresults", "allergies", "allergy", "symptoms", "chiefcomplaint", "clinicalnotes",
        "clinicalnote", "progressnote", "dischargesummary", "icd10", "icdcode", "cptcode",
        "dosage", "vitals", "immunizations", "problemlist",
        # (P) biometric identifiers, (Q) full-face photographs
        "biometric", "fingerprint", "voiceprint", "retinascan", "faceprint", "photo",
        "photograph", "facephoto", "headshot",
    }
)  # fmt: skip

# --- PCI DSS ------------------------------------------------------------------------------------
_PCI_PSEUDONYM = frozenset({"cardholder", "cardholdername", "nameoncard", "cardname"})
_PCI_REDACT = frozenset(
    {
        "pan", "primaryaccountnumber", "cardnumber", "cardno", "expiry", "expirydate",
        "expirationdate", "expdate", "cardexpiry", "expirymonth", "expiryyear", "expmonth",
        "expyear", "servicecode", "cvv", "cvv2", "cvc", "cvc2", "cid", "cav2", "csc",
        "securitycode", "cardverificationcode", "pin", "pinblock", "track1", "track2",
        "trackdata", "magstripe", "magneticstripe", "chipdata",
    }
)  # fmt: skip

# --- GDPR ---------------------------------------------------------------------------------------
_GDPR_REDACT = frozenset(
    {
        "race", "ethnicity", "ethnicorigin", "racialorigin", "politicalopinion",
        "politicalopinions", "politicalaffiliation", "partyaffiliation", "religion",
        "religiousbelief", "religiousbeliefs", "philosophicalbeliefs", "beliefs", "tradeunion",
        "tradeunionmembership", "unionmembership", "geneticdata", "genome", "genotype", "dna",
        "biometric", "biometricdata", "fingerprint", "faceprint", "health", "healthdata",
        "healthstatus", "medicalcondition", "diagnosis", "disability", "sexualorientation",
        "sexlife", "criminalrecord", "criminalrecords", "convictions", "offences", "offenses",
    }
)  # fmt: skip

# --- free text ----------------------------------------------------------------------------------
_DATE = (
    r"(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{2,4}"
    r"|[0-9]{1,2}\s+[a-z]{3,9}\.?,?\s+[0-9]{4}|[a-z]{3,9}\.?\s+[0-9]{1,2}(?:st|nd|rd|th)?,?\s+[0-9]{4})"
)
_MONTHS = re.compile(r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec", re.ASCII | re.IGNORECASE)


def _date_ok(text: str) -> bool:
    """A date written with digits only, or with a month name (``2 March 1984``, ``Mar 2, 1984``)."""
    letters = "".join(ch for ch in text if ch.isalpha()).lower()
    return not letters or letters in ("st", "nd", "rd", "th") or bool(_MONTHS.match(letters))


def _hipaa_detectors() -> list[PatternDetector]:
    return [
        PatternDetector(
            "date_of_birth",
            r"(?:dob(?<![a-z0-9]dob)|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|birthday"
            r"|born(?<![a-z]born)(?:\s+on)?)[\s:#=\"'(-]{0,5}(?P<dob>" + _DATE + r")(?![0-9])",
            group="dob",
            validate=_date_ok,
            min_digits=4,
            required_lower=("dob", "d.o.b", "birth", "born"),
            lowercase=True,
            builtin=True,
        ),
    ]


def _cvc_ok(text: str) -> bool:
    return text.isdigit() and len(text) in (3, 4)


def _pci_detectors() -> list[PatternDetector]:
    return [
        PatternDetector(
            "track_data",
            # Track 1 (%B<PAN>^NAME^YYMM...?) and track 2 (;<PAN>=YYMM...?) of a magnetic stripe.
            r"%(?:B[0-9]{12,19}\^[^^\n]{2,26}\^[0-9]{4}[^?\n]{0,80}\??)"
            r"|;(?<=;)[0-9]{12,19}=[0-9]{4}[0-9]{0,30}\??",
            min_digits=16,
            required=("^", "="),
            builtin=True,
        ),
        PatternDetector(
            "card_verification",
            r"(?:cvv2?(?<![a-z0-9]cvv)(?<![a-z0-9]cvv2)|cvc2?(?<![a-z0-9]cvc)(?<![a-z0-9]cvc2)"
            r"|cid(?<![a-z0-9]cid)|cav2|security\s+code|card\s+verification(?:\s+code|\s+value)?)"
            r"[\s:#=\"'-]{0,5}(?P<cvc>[0-9]{3,4})(?![0-9])",
            group="cvc",
            validate=_cvc_ok,
            min_digits=3,
            required_lower=("cvv", "cvc", "cid", "cav2", "security", "verification"),
            lowercase=True,
            builtin=True,
        ),
        PatternDetector(
            "card_expiry",
            r"(?:exp(?<![a-z0-9]exp)(?:iry|ires|iration)?(?:\s+date)?|valid\s+(?:thru|through)"
            r"|good\s+thru)[\s:#=\"'.-]{0,5}(?P<exp>(?:0[1-9]|1[0-2])\s?[/-]\s?(?:[0-9]{4}|[0-9]{2}))"
            r"(?![0-9])",
            group="exp",
            min_digits=3,
            required_lower=("exp", "valid", "good"),
            lowercase=True,
            builtin=True,
        ),
    ]


@dataclasses.dataclass(frozen=True)
class RedactionProfile:
    """What a profile adds: keys whose values are redacted, keys whose values are pseudonymized,
    and free-text detectors (run before the built-in ones)."""

    name: str
    redact_keys: frozenset[str] = frozenset()
    pseudonym_keys: frozenset[str] = frozenset()
    detectors: Callable[[], list[PatternDetector]] = list


PROFILES = {
    "default": RedactionProfile("default"),
    "hipaa": RedactionProfile("hipaa", _HIPAA_REDACT, _HIPAA_PSEUDONYM, _hipaa_detectors),
    "pci": RedactionProfile("pci", _PCI_REDACT, _PCI_PSEUDONYM, _pci_detectors),
    "gdpr": RedactionProfile("gdpr", _GDPR_REDACT),
}


def profile_names(spec: str | Iterable[str] | None) -> tuple[str, ...]:
    """The profile names in ``spec`` (``"hipaa,pci"`` or a list), checked; ValueError for an
    unknown one."""
    if spec is None:
        return ()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names = tuple(dict.fromkeys(n.strip().lower() for n in items if n and n.strip()))
    unknown = [n for n in names if n not in PROFILES]
    if unknown:
        raise ValueError(
            f"unknown redaction profile {', '.join(unknown)}; known: {', '.join(PROFILE_NAMES)}"
        )
    return names


def profiles(names: Iterable[str]) -> list[RedactionProfile]:
    """The profiles named (names already checked by :func:`profile_names`)."""
    return [PROFILES[name] for name in names]
