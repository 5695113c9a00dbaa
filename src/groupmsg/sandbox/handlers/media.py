"""Uploading media: legacy ``POST /media/upload?access_token=…&type=…`` (docs/dingtalk-api.md §4.3).

The file comes as the multipart part ``media``; the answer's ``media_id`` is what chat/send's
``image`` (§4.1) and the robot API's ``sampleImageMsg`` (§4.2) carry.  The sandbox remembers what it
issued, so a recorded message can say which file its media id stands for.
"""

from __future__ import annotations

import base64
import os
import weakref
from typing import Any

from ..config import SandboxConfig
from ..errors import OapiError
from ..request import Request, media_type
from ..state import State

# type → the largest file DingTalk takes (§4.3: image 1 MB, voice 2 MB, file 10 MB; video as a file)
MEDIA_MAX_BYTES = {"image": 1024 * 1024, "voice": 2 * 1024 * 1024, "video": 10 * 1024 * 1024, "file": 10 * 1024 * 1024}
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")

# What each sandbox state issued: media_id → {type, filename, bytes, content_type, app_key}. Kept
# beside the state (not in it) and dropped with it, so a reset forgets uploads too.
_ISSUED: weakref.WeakKeyDictionary[State, dict[str, dict[str, Any]]] = weakref.WeakKeyDictionary()


def issued(state: State, media_id: Any) -> dict[str, Any] | None:
    """What the sandbox knows of a media id it issued (None for any other value)."""
    if not isinstance(media_id, str):
        return None
    found = _ISSUED.get(state, {}).get(media_id)
    return dict(found) if found else None


def media_upload(req: Request, state: State, cfg: SandboxConfig) -> dict[str, Any]:
    """Checks in this order: ``type``, a multipart body with a ``media`` file part, size, format."""
    kind = req.query.get("type", "")
    if kind not in MEDIA_MAX_BYTES:
        raise OapiError(40004, "不合法的媒体文件类型")
    content_type = req.headers.get("content-type", "")
    boundary = _param(content_type, "boundary")
    part = None
    if media_type(content_type) == "multipart/form-data" and boundary:
        part = parse_multipart(req.body, boundary).get("media")
    if part is None or part.get("filename") is None:
        raise OapiError(40035, "缺少参数 media")
    data: bytes = part["data"]
    if not data or len(data) > MEDIA_MAX_BYTES[kind]:
        raise OapiError(40006, "不合法的文件大小")
    if kind == "image" and not data.startswith(IMAGE_MAGIC):
        raise OapiError(40005, "不合法的文件类型")
    media_id = "@lA" + base64.b64encode(os.urandom(18)).decode("ascii").replace("/", "x").replace("+", "y")
    _ISSUED.setdefault(state, {})[media_id] = {
        "type": kind,
        "filename": part["filename"],
        "bytes": len(data),
        "content_type": part.get("content_type"),
        "app_key": req.app_key,
    }
    return {"type": kind, "media_id": media_id, "created_at": int(req.now * 1000)}


def _param(header: str, name: str) -> str | None:
    """A parameter of a header value: ``boundary`` of ``multipart/form-data; boundary=x``."""
    for piece in header.split(";")[1:]:
        key, _, value = piece.strip().partition("=")
        if key.lower() == name:
            return value.strip().strip('"')
    return None


def parse_multipart(body: bytes, boundary: str) -> dict[str, dict[str, Any]]:
    """The parts of a ``multipart/form-data`` body by name: ``data``, ``filename`` (None for a plain
    field) and ``content_type``.  Malformed parts are skipped."""
    parts: dict[str, dict[str, Any]] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        head, sep, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            continue
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _param(disposition, "name")
        if name is None:
            continue
        parts.setdefault(
            name,
            {
                "data": data.removesuffix(b"\r\n"),
                "filename": _param(disposition, "filename"),
                "content_type": headers.get("content-type"),
            },
        )
    return parts
