# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The access report as one self-contained, print-ready HTML page."""

from __future__ import annotations

import html
from typing import Any

_STYLE = """
body { font: 11pt/1.4 system-ui, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 16pt; margin-bottom: 0.2em; }
table { border-collapse: collapse; width: 100%; margin-top: 1em; }
th, td { border: 1px solid #999; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
.ok { color: #063; font-weight: bold; } .fail { color: #a00; font-weight: bold; }
code { font-size: 9pt; word-break: break-all; }
@media print { body { margin: 0; } a { color: inherit; } thead { display: table-header-group; } }
"""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return html.escape(str(value))


def report_html(report: dict[str, Any]) -> str:
    """The page for ``report`` (:func:`access_report`'s dict); every value is escaped."""
    integrity = report["integrity"]
    checkpoint = integrity.get("checkpoint") or {}
    verdict = (
        '<span class="ok">verified</span>'
        if report["integrity_verified"]
        else f'<span class="fail">NOT verified</span>: {_cell(integrity.get("reason"))}'
    )
    rows = []
    for access in report["accesses"]:
        trace = _cell(access.get("trace_id"))
        if access.get("trace_url"):
            trace = f'<a href="{html.escape(access["trace_url"], quote=True)}">{trace}</a>'
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{_cell(access.get(key))}</td>"
                for key in ("timestamp", "accessed_by", "role", "tool", "purpose", "success")
            )
            + f"<td>{_cell(access.get('seq'))}</td><td><code>{trace}</code></td></tr>"
        )
    period = report["report_period"]
    anchor = (
        f"checkpoint of {checkpoint.get('size')} records, origin <code>{_cell(checkpoint.get('origin'))}"
        f"</code>, root <code>{_cell(checkpoint.get('root'))}</code>"
        if checkpoint
        else "no signed checkpoint"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Access report</title>
<style>{_STYLE}</style></head><body>
<h1>Access report</h1>
<p>Subject <code>{_cell(report["subject"])}</code>, from {_cell(period.get("from"))} to
{_cell(period.get("to"))}</p>
<p>{report["total_accesses"]} accesses by {report["unique_users"]} users.</p>
<p>Integrity ({_cell(integrity.get("method"))} check): {verdict}<br>Rests on: {anchor}</p>
<table><thead><tr><th>Time (UTC)</th><th>Accessed by</th><th>Role</th><th>Tool</th><th>Purpose</th>
<th>Success</th><th>Record</th><th>Trace</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody></table>
</body></html>
"""
