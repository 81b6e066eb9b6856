# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An openai app with no telemetry code that names its user in the request (``user=``).

Run under `opentelemetry-instrument` by the tests, against the fake API at ``FAKE_OPENAI_URL``.
"""

from __future__ import annotations

import os

import openai

from tests.apps import zero_code_tools


def main() -> None:
    client = openai.OpenAI(base_url=os.environ["FAKE_OPENAI_URL"], api_key="not-needed")
    for user in ("usr_alice", "usr_bob"):
        completion = client.chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "where is ORD-1?"}], user=user
        )
        for call in completion.choices[0].message.tool_calls:
            zero_code_tools.dispatch(call.function.name, call.function.arguments, call.id)
    print("APP-DONE")


if __name__ == "__main__":
    main()
