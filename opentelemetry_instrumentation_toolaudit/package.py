# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

# Deliberately empty: the core (decorator, no-code targets) instruments the app itself, so the
# instrumentor must load under auto-instrumentation with none of the frameworks installed. Each
# framework integration checks its own library's version when that library is imported.
_instruments: tuple[str, ...] = ()
