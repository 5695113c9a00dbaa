"""DingTalk error codes: which ones a fresh token fixes, which a retry may fix, and the likely fix.

Codes and texts come from docs/dingtalk-api.md: §7 indexes them, §2.3 lists the token errors and §6.1 the
throttling codes.
"""

from __future__ import annotations

from ..errors import RETRY_AFTER_FIX, RETRY_LATER, RETRY_NEVER

# oapi 40014/42001/40001/33001 and the api family's InvalidAuthentication: refresh the token once.
TOKEN_CODES = frozenset({"40014", "42001", "40001", "33001", "InvalidAuthentication", "Unauthorized"})

# Busy, throttled or rate-limited: the same request may succeed later.
RETRYABLE_CODES = frozenset(
    {
        "-1",  # 系统繁忙
        "90018",  # per app × API QPS
        "90002",  # global per-API QPS
        "130101",  # webhook: send too fast (observed)
        "410100",  # webhook: rate limit (documented)
        "400001",  # 系统错误
        "system.busy",
        "systemBusy",
        "system.error",
        "send.too.fast",
        "send.byToken.tooFast",
        "too.many.group",
        "too.many.people",
        "timeout",
        "network",
    }
)
RETRYABLE_PREFIXES = ("Forbidden.AccessDenied.Qps", "Forbidden.AccessDenied.Qpm")

BLOCK_FIX = (
    "DingTalk blocks a robot for 10 minutes after more than 20 messages in a minute; another program may "
    "be sending through the same robot (groupmsg's own sends are paced below the limit)"
)

FIXES: dict[str, str] = {
    "40014": "the access token is invalid or expired; groupmsg refreshes it once, so check "
    "DINGTALK_APP_KEY / DINGTALK_APP_SECRET",
    "42001": "the access token expired; check the machine's clock",
    "40001": "the app secret is wrong: check DINGTALK_APP_SECRET",
    "33001": "the token belongs to another organisation: check DINGTALK_APP_KEY",
    "41001": "the request had no access_token",
    "40089": "the app key or secret is wrong: check DINGTALK_APP_KEY / DINGTALK_APP_SECRET",
    "invalidClientIdOrSecret": "the app key or secret is wrong: check DINGTALK_APP_KEY / DINGTALK_APP_SECRET",
    "InvalidAuthentication": "the access token was refused: check DINGTALK_APP_KEY / DINGTALK_APP_SECRET",
    "34001": "DingTalk does not know this chat id for your app: chat/send works only for groups created "
    "through the API by the same organisation (`groupmsg create-group`); check `groupmsg groups show`. "
    "Against a sandbox: one restarted without --state has forgotten the groups created before",
    "34004": "unsupported message type",
    "34014": "DingTalk rejected the message body as invalid",
    "34016": "the message is too long for chat/send (text ≤ 5000 characters, title ≤ 64)",
    "43007": "the app lacks the permission for this API: grant it in the developer console",
    "60011": "the app lacks the permission for this API: grant it in the developer console",
    "300001": "the webhook's access_token is wrong or the robot was deleted: copy the URL again from the "
    "robot's settings and `groupmsg groups set NAME --webhook URL`",
    "400101": "the webhook's access_token is wrong or the robot was deleted: copy the URL again from the "
    "robot's settings and `groupmsg groups set NAME --webhook URL`",
    "400102": "the robot is disabled in the group's settings",
    "400106": "the robot is not in this group any more",
    "400013": "the group was disbanded",
    "460101": "the message is larger than 20000 bytes: shorten it",
    "130101": BLOCK_FIX,
    "410100": BLOCK_FIX,
    "400105": "the robot does not support this message type",
    "40035": "DingTalk found the message body incomplete (a required field is missing)",
    "43004": "DingTalk wants Content-Type: application/json",
    "430101": "DingTalk's content check refused a link in the message",
    "430102": "DingTalk's content check refused the text of the message",
    "430103": "DingTalk's content check refused a picture in the message",
    "430104": "DingTalk's content check refused the message",
    "90018": "the app exceeded DingTalk's 20 requests per second for this API: slow down",
    "90002": "DingTalk is throttling this API for everyone: retry in a minute",
    "-1": "DingTalk is busy: retry later",
    "invalidParameter.robotCode.notExsit": "DINGTALK_ROBOT_CODE is not a robot of this app",
    "invalidParameter.robotCode.auth": "DINGTALK_ROBOT_CODE belongs to another app than DINGTALK_APP_KEY",
    "invalid.openConversationId": "the open conversation id is unknown: check `groupmsg groups show`",
    "resource.not.found": "the robot is not in the group: add the app robot to the group in DingTalk",
    "invalidParameter.msgParam.tooLong": "the message is larger than 15000 bytes: shorten it",
    "permession.checkFailed": "the app may not create this group: check that the owner and members "
    "are within the app's visibility range",
    "parameter.invalid": "DingTalk rejected a parameter: check the owner and member user ids",
    "member.notFound": "a member user id does not exist in the organisation",
    "groupTemplate.notFound": "the scene-group template id is unknown or offline",
}

_KEYWORDS_FIX = (
    "the message contains none of the robot's keywords: include one in the text (tell groupmsg the "
    "keywords with `groupmsg groups set NAME --keyword WORD` and it refuses such a message before sending)"
)
_SECURITY_FIXES = (
    ("sign", "the signature does not match: the group's SEC… secret is wrong; copy it again from the robot's "
     "加签 setting and `groupmsg groups set NAME --secret -` (reads it from stdin)"),
    ("timestamp", "the signing timestamp was refused: this machine's clock is more than an hour off"),
    ("keyword", _KEYWORDS_FIX),
    ("关键词", _KEYWORDS_FIX),
    ("whitelist", "this machine's IP address is not in the robot's IP allow-list"),
    ("ip ", "this machine's IP address is not in the robot's IP allow-list"),
)


def describe(code: str, text: str = "") -> str | None:
    """The likely fix for a DingTalk error, if known."""
    if code == "310000":  # one code for every webhook security check; the text says which
        lowered = text.lower()
        for needle, fix in _SECURITY_FIXES:
            if needle in lowered:
                return fix
        return "a security check failed: check the signing secret, the keywords and the clock"
    if code in FIXES:
        return FIXES[code]
    if code.startswith(RETRYABLE_PREFIXES):
        return "the app exceeded DingTalk's rate limit for this API: slow down"
    return None


# Busy and throttling answers: DingTalk did not process the request, whatever the HTTP status.
BUSY_PREFIXES = ("-1", "system.busy", "systemBusy", "Throttling", "Forbidden.AccessDenied.Qp")

# The message itself is refused: sending it again cannot help (another message may).
CONTENT_CODES = frozenset(
    {
        "460101",  # body too large
        "invalidParameter.msgParam.tooLong",
        "34004",  # unsupported message type
        "34014",  # invalid body
        "34016",  # too long for chat/send
        "400105",  # the robot does not support this type
        "40035",  # incomplete body
        "430101",  # content check: link
        "430102",  # content check: text
        "430103",  # content check: picture
        "430104",  # content check
    }
)


def retry_class(code: str, text: str = "", status: int = 200) -> str:
    """What a later retry of the same message can do about this error (errors.RETRY_*)."""
    if is_retryable(code, status):
        return RETRY_LATER
    if code in CONTENT_CODES or (code == "310000" and ("keyword" in text.lower() or "关键词" in text)):
        return RETRY_NEVER
    return RETRY_AFTER_FIX


def is_token_error(code: str) -> bool:
    return code in TOKEN_CODES


def is_retryable(code: str, status: int = 200) -> bool:
    return code in RETRYABLE_CODES or code.startswith(RETRYABLE_PREFIXES) or status >= 500 or status == 429
