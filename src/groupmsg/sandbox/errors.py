"""The two error shapes DingTalk answers with (``docs/dingtalk-api.md`` §1).

Handlers raise these; the pipeline (``replies``) turns them into the wire
shape of the endpoint's family.
"""

from __future__ import annotations


class OapiError(Exception):
    """Legacy oapi / webhook failure: still HTTP 200, body ``{"errcode", "errmsg", …}``.

    ``extra`` holds additional body fields (``sub_code``/``sub_msg`` for the
    topapi errcode-88 form).  ``errmsg`` is DingTalk's own text, which clients
    match on; ``detail`` is the sandbox's explanation (which field, which
    limit), shown in the request log and the web inbox, never on the wire.
    """

    def __init__(self, errcode: int, errmsg: str, *, detail: str | None = None, **extra: object) -> None:
        super().__init__(f"{errcode} {errmsg}" + (f" ({detail})" if detail else ""))
        self.errcode = errcode
        self.errmsg = errmsg
        self.detail = detail
        self.extra = extra


class ApiError(Exception):
    """New-API failure: HTTP 4xx/5xx, body ``{"code", "message", "requestid"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message


class SandboxTimeout(TimeoutError):
    """Raised by ``Sandbox.handle`` when an injected ``timeout`` fault means no answer."""


class NotFound(LookupError):
    """A control request names a robot or app that does not exist (HTTP 404)."""
