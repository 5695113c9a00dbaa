"""Shared constants and a tiny explicit DingTalk caller for the sandbox tests.

(A uniquely named module rather than conftest imports: test modules import it.)
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from groupmsg.sandbox import Sandbox
from groupmsg.sandbox.config import DEMO_WEBHOOK_PLAIN_TOKEN

OAPI = "https://oapi.dingtalk.com"
API = "https://api.dingtalk.com"
APP_KEY = "demo-app-key"
APP_SECRET = "demo-app-secret"
ROBOT = "demo-robot"
PLAIN_HOOK = DEMO_WEBHOOK_PLAIN_TOKEN
# The worked signing example of docs/dingtalk-api.md §5.2: secret SEC0123456789abcdef,
# timestamp 1700000000000 -> this sign.  The fake clock starts at that instant.
EXAMPLE_HOOK = "example-hook-token-0001"
EXAMPLE_SECRET = "SEC0123456789abcdef"
EXAMPLE_TS = "1700000000000"
EXAMPLE_SIGN_B64 = "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="
EXAMPLE_SIGN_PARAM = "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"


class FakeClock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class DingTalk:
    """A minimal, deliberately explicit DingTalk caller for the tests."""

    def __init__(self, sb: Sandbox, clock: FakeClock) -> None:
        self.sb = sb
        self.clock = clock
        self.http = httpx.Client(transport=sb.transport(), timeout=5)

    # tokens
    def token(self, app_key: str = APP_KEY, app_secret: str = APP_SECRET) -> str:
        r = self.http.post(f"{API}/v1.0/oauth2/accessToken", json={"appKey": app_key, "appSecret": app_secret})
        assert r.status_code == 200, r.text
        return r.json()["accessToken"]

    # families
    def oapi(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        params = dict(kw.pop("params", {}))
        if token is not None:
            params["access_token"] = token
        return self.http.request(method, f"{OAPI}{path}", params=params, **kw)

    def api(self, path: str, body: Any = None, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["x-acs-dingtalk-access-token"] = token
        if body is not None:
            kw["json"] = body
        return self.http.post(f"{API}{path}", headers=headers, **kw)

    def hook(self, query: str, body: Any, content_type: str = "application/json; charset=utf-8") -> httpx.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.http.post(f"{OAPI}/robot/send?{query}", content=data, headers={"content-type": content_type})

    # shortcuts
    def create_chat(self, token: str, name: str = "team", owner: str = "u1", members: tuple[str, ...] = ("u1", "u2")) -> dict[str, Any]:
        r = self.oapi("POST", "/chat/create", token, json={"name": name, "owner": owner, "useridlist": list(members)})
        body = r.json()
        assert body["errcode"] == 0, body
        return body

    def robot_send(self, token: str, cid: str, msg_key: str = "sampleText", param: Any = None, robot: str = ROBOT) -> httpx.Response:
        if param is None:
            param = {"content": "hello"}
        msg_param = param if isinstance(param, str) else json.dumps(param, ensure_ascii=False)
        return self.api(
            "/v1.0/robot/groupMessages/send",
            {"msgKey": msg_key, "msgParam": msg_param, "openConversationId": cid, "robotCode": robot},
            token,
        )
