# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0
