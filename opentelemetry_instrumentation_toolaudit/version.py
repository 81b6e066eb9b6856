# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

__version__ = "0.1.0"
