# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A web app with no telemetry code (FastAPI or Flask, by ``WEB_FRAMEWORK``) behind a gateway that
authenticates users: each POST /chat asks the fake model API at ``FAKE_OPENAI_URL`` for tool calls and
dispatches them. Run under `opentelemetry-instrument` by the tests; serves on ``PORT``.
"""

from __future__ import annotations

import os
from typing import Any

import openai

from tests.apps import zero_code_tools


def answer() -> dict[str, Any]:
    client = openai.OpenAI(base_url=os.environ["FAKE_OPENAI_URL"], api_key="not-needed")
    completion = client.chat.completions.create(
        model="gpt-4.1", messages=[], safety_identifier="sid-from-the-app"
    )
    results = [
        zero_code_tools.dispatch(call.function.name, call.function.arguments, call.id)
        for call in completion.choices[0].message.tool_calls
    ]
    return {"results": results}


def fastapi_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()
    app.get("/health")(lambda: {"ok": True})
    app.post("/chat")(answer)
    return app


def flask_app() -> Any:
    from flask import Flask

    app = Flask(__name__)
    app.get("/health")(lambda: {"ok": True})
    app.post("/chat")(answer)
    return app


def main() -> None:
    port = int(os.environ["PORT"])
    if os.environ["WEB_FRAMEWORK"] == "fastapi":
        import uvicorn

        uvicorn.run(fastapi_app(), host="127.0.0.1", port=port, log_level="warning")
    else:
        flask_app().run(host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
