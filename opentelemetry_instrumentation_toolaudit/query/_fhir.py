# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Audit records as FHIR R4 ``AuditEvent`` resources, shaped after IHE Basic Audit Log Patterns.

=====================  ==========================================================================
AuditEvent element     From the record
=====================  ==========================================================================
``id``                 ``event_id``
``type``               ``rest`` (audit-event-type) for tool calls; ``110100`` Application
                       Activity (DICOM) for other events
``subtype``            the declared action as a RESTful interaction (``read``, ``create``,
                       ``update``, ``delete``, ``operation``) and the tool name
``action``             ``C``/``R``/``U``/``D``/``E`` from the declared action (``E`` when none)
``period``             ``start_time`` .. ``end_time``
``recorded``           ``recorded_at``
``outcome``            ``0`` success, ``4`` refused (``PermissionError``-like), ``8`` failed,
                       ``12`` the audit trail was unavailable
``outcomeDesc``        ``error_type``
``purposeOfEvent``     ``purpose`` as v3-ActReason: treatment ``TREAT``, payment ``HPAYMT``,
                       operations ``HOPERAT``, research ``HRESCH``, emergency ``ETREAT``
``agent[0]``           the user (``IRCP``, ``requestor=true``, ``user_id``, roles)
``agent[1]``           the model or agent (``110153`` Source Role ID, ``requestor=false``)
``source.observer``    ``service_name`` (type ``4`` Application Server)
``entity[0]``          the subject as a pseudonymous Patient identifier (role ``1`` Patient)
``entity[1]``          the tool call (type ``2`` System Object; ``seq``, ``entry_hash``,
                       ``trace_id`` and ``span_id`` in ``detail``)
=====================  ==========================================================================
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry_instrumentation_toolaudit.ledger import schema as f
from opentelemetry_instrumentation_toolaudit.query._links import trace_link, trace_url_template
from opentelemetry_instrumentation_toolaudit.query._query import QueryResult

AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
TOOL_SYSTEM = "urn:toolaudit:tool"
SUBJECT_SYSTEM = "urn:toolaudit:subject"
USER_SYSTEM = "urn:toolaudit:user"
EVENT_SYSTEM = "urn:toolaudit:event"

_ACTIONS = {"create": "C", "read": "R", "update": "U", "delete": "D", "execute": "E"}
_INTERACTIONS = {
    "create": "create",
    "read": "read",
    "update": "update",
    "delete": "delete",
    "execute": "operation",
}
_PURPOSES = {
    "treat": "TREAT",
    "treatment": "TREAT",
    "payment": "HPAYMT",
    "hpaymt": "HPAYMT",
    "operations": "HOPERAT",
    "hoperat": "HOPERAT",
    "research": "HRESCH",
    "hresch": "HRESCH",
    "emergency": "ETREAT",
    "etreat": "ETREAT",
    "break_glass": "ETREAT",
}
_PURPOSE_NAMES = {
    "TREAT": "treatment",
    "HPAYMT": "healthcare payment",
    "HOPERAT": "healthcare operations",
    "HRESCH": "healthcare research",
    "ETREAT": "Emergency Treatment",
}
_REFUSED = ("PermissionError", "PermissionDenied", "Forbidden", "AccessDenied", "Unauthorized")
_AUDIT_DOWN = "AuditUnavailableError"


def purpose_code(purpose: Any) -> str | None:
    """The v3-ActReason code of a record's purpose, or None when it names none of them."""
    if not isinstance(purpose, str):
        return None
    return _PURPOSES.get(purpose.strip().lower().replace("-", "_").replace(" ", "_"))


def outcome_code(record: dict[str, Any]) -> str | None:
    """``0`` success, ``4`` refused, ``8`` failed, ``12`` audit unavailable; None when unknown."""
    success = record.get(f.SUCCESS)
    if success is True:
        return "0"
    if success is not False:
        return None
    error = str(record.get(f.ERROR_TYPE) or "")
    if error.endswith(_AUDIT_DOWN):
        return "12"
    if any(word in error for word in _REFUSED):
        return "4"
    return "8"


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


# The codings every event shares, built once: an export makes tens of thousands of events a second.
_REST = _coding(AUDIT_EVENT_TYPE, "rest", "Restful Operation")
_APPLICATION_ACTIVITY = _coding(DICOM, "110100", "Application Activity")
_USER_TYPE = {"coding": [_coding(PARTICIPATION_TYPE, "IRCP", "information recipient")]}
_MODEL_TYPE = {"coding": [_coding(DICOM, "110153", "Source Role ID")]}
_SOURCE_TYPE = [_coding(SOURCE_TYPE, "4", "Application Server")]
_PERSON = _coding(ENTITY_TYPE, "1", "Person")
_PATIENT = _coding(OBJECT_ROLE, "1", "Patient")
_SYSTEM_OBJECT = _coding(ENTITY_TYPE, "2", "System Object")
_DOMAIN_RESOURCE = _coding(OBJECT_ROLE, "4", "Domain Resource")
_INTERACTION_CODINGS = {
    action: _coding(RESTFUL_INTERACTION, code) for action, code in _INTERACTIONS.items()
}
_PURPOSE_OF_USE = {
    code: [{"coding": [_coding(ACT_REASON, code, name)]}] for code, name in _PURPOSE_NAMES.items()
}

try:  # orjson (the ``fast`` extra) writes NDJSON lines several times quicker than ``json``.
    import orjson

    def _line(event: dict[str, Any]) -> str:
        return orjson.dumps(event).decode("utf-8")

except ImportError:  # pragma: no cover - the stdlib encoder

    def _line(event: dict[str, Any]) -> str:
        return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def _detail(kind: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "valueString": str(value)}


def audit_event(result: QueryResult, template: str | None = None) -> dict[str, Any]:
    """The FHIR R4 AuditEvent (a JSON object) for one record. Its fixed codings are shared between
    events: copy an event (``copy.deepcopy``) before changing it in place."""
    record = result.record
    action_name = record.get(f.TOOL_ACTION)
    tool = record.get(f.TOOL_NAME)
    is_call = record.get(f.EVENT_TYPE) in (f.EVENT_TOOL_CALL, f.EVENT_TOOL_INTENT)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(record.get(f.EVENT_ID) or result.entry_hash[:32]),
        "type": _REST if is_call else _APPLICATION_ACTIVITY,
        "action": _ACTIONS.get(str(action_name), "E"),
        "recorded": record.get(f.RECORDED_AT),
    }
    subtype = []
    if action_name in _INTERACTIONS:
        subtype.append(_INTERACTION_CODINGS[str(action_name)])
    if tool:
        subtype.append(_coding(TOOL_SYSTEM, str(tool)))
    elif record.get(f.EVENT_TYPE):
        subtype.append(_coding(EVENT_SYSTEM, str(record[f.EVENT_TYPE])))
    if subtype:
        event["subtype"] = subtype
    if record.get(f.START_TIME):
        event["period"] = {"start": record[f.START_TIME], "end": record.get(f.END_TIME)}
        if not event["period"]["end"]:
            del event["period"]["end"]
    outcome = outcome_code(record)
    if outcome is not None:
        event["outcome"] = outcome
    if record.get(f.ERROR_TYPE):
        event["outcomeDesc"] = str(record[f.ERROR_TYPE])
    purpose = purpose_code(record.get(f.PURPOSE))
    purposes: list[dict[str, Any]] = []
    if purpose:
        purposes = _PURPOSE_OF_USE[purpose]
    elif isinstance(record.get(f.PURPOSE), str):
        purposes = [{"text": record[f.PURPOSE]}]
    if purposes:
        event["purposeOfEvent"] = purposes
    event["agent"] = _agents(record, purposes)
    source: dict[str, Any] = {
        "observer": {"display": str(record.get(f.SERVICE_NAME) or "toolaudit")},
        "type": _SOURCE_TYPE,
    }
    event["source"] = source
    event["entity"] = _entities(result, template)
    return event


def _agents(record: dict[str, Any], purposes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    agents: list[dict[str, Any]] = []
    user = record.get(f.USER_ID)
    human: dict[str, Any] = {
        "type": _USER_TYPE,
        "who": (
            {"identifier": {"system": USER_SYSTEM, "value": str(user)}}
            if user
            else {"display": "unknown user"}
        ),
        "requestor": True,
    }
    roles = record.get(f.USER_ROLES)
    if isinstance(roles, list) and roles:
        human["role"] = [{"text": str(role)} for role in roles]
    if purposes:
        human["purposeOfUse"] = purposes
    agents.append(human)
    model = record.get(f.MODEL)
    if model:
        agents.append(
            {
                "type": _MODEL_TYPE,
                "who": {"display": str(model)},
                "name": str(record.get(f.PROVIDER) or model),
                "requestor": False,
            }
        )
    return agents


def _entities(result: QueryResult, template: str | None) -> list[dict[str, Any]]:
    record = result.record
    entities: list[dict[str, Any]] = []
    subject = record.get(f.SUBJECT)
    if isinstance(subject, str):
        entities.append(
            {
                "what": {
                    "identifier": {"system": SUBJECT_SYSTEM, "value": subject},
                    "display": "pseudonymous subject",
                },
                "type": _PERSON,
                "role": _PATIENT,
            }
        )
    details = [_detail("seq", result.seq), _detail("entry_hash", result.entry_hash)]
    if result.trace_id:
        details.append(_detail("trace_id", result.trace_id))
        link = trace_link(result.trace_id, template)
        if link:
            details.append(_detail("trace_url", link))
    if result.span_id:
        details.append(_detail("span_id", result.span_id))
    call: dict[str, Any] = {
        "what": {
            "identifier": {
                "system": EVENT_SYSTEM,
                "value": str(record.get(f.CALL_ID) or record.get(f.EVENT_ID) or result.seq),
            }
        },
        "type": _SYSTEM_OBJECT,
        "role": _DOMAIN_RESOURCE,
        "detail": details,
    }
    if record.get(f.TOOL_NAME):
        call["name"] = str(record[f.TOOL_NAME])
    entities.append(call)
    return entities


def fhir_bundle(results: Iterable[QueryResult], template: str | None = None) -> dict[str, Any]:
    """A FHIR ``collection`` Bundle of one AuditEvent per record."""
    template = _template(template)
    entries = []
    for result in results:
        event = audit_event(result, template)
        entries.append({"fullUrl": f"urn:uuid:{_uuid(event['id'])}", "resource": event})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _uuid(event_id: str) -> uuid.UUID:
    """The event id (32 hex digits, a UUIDv7) as a UUID; a fresh one for an id that is not."""
    try:
        return uuid.UUID(hex=event_id)
    except ValueError:
        return uuid.uuid4()


def fhir_ndjson(results: Iterable[QueryResult], template: str | None = None) -> Iterator[str]:
    """One AuditEvent per line (FHIR Bulk Data NDJSON)."""
    template = _template(template)
    for result in results:
        yield _line(audit_event(result, template))


def _template(template: str | None) -> str:
    """The trace URL template, read from the environment once per export ("" for none)."""
    return template if template is not None else (trace_url_template() or "")
