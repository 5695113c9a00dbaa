"""Access tokens (docs/dingtalk-api.md §2) and the per-family token checks (§1, §2.3, §8.1)."""

from __future__ import annotations

from sbtest_support import API, APP_KEY, APP_SECRET, OAPI


def test_new_token_shape_and_headers(dt):
    r = dt.http.post(f"{API}/v1.0/oauth2/accessToken", json={"appKey": APP_KEY, "appSecret": APP_SECRET})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"accessToken", "expireIn"}
    assert body["expireIn"] == 7200 and isinstance(body["accessToken"], str) and body["accessToken"]
    assert r.headers["x-acs-request-id"] and r.headers["x-acs-trace-id"]


def test_new_token_bad_credentials(dt):
    r = dt.http.post(f"{API}/v1.0/oauth2/accessToken", json={"appKey": APP_KEY, "appSecret": "nope"})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "invalidClientIdOrSecret"
    assert body["message"] == "无效的clientId或者clientSecret"
    assert body["requestid"] == r.headers["x-acs-request-id"]
    r = dt.http.post(f"{API}/v1.0/oauth2/accessToken", json={"appKey": "who", "appSecret": APP_SECRET})
    assert r.json()["code"] == "invalidClientIdOrSecret"


def test_new_token_rejects_form_and_non_json_bodies(dt):
    r = dt.http.post(f"{API}/v1.0/oauth2/accessToken", data={"appKey": APP_KEY, "appSecret": APP_SECRET})
    assert r.status_code == 400 and r.json()["code"] == "Missingbody"
    r = dt.http.post(f"{API}/v1.0/oauth2/accessToken", content=b"appKey=x", headers={"content-type": "text/plain"})
    assert r.status_code == 400 and r.json()["code"] == "Missingbody"
    r = dt.http.post(f"{API}/v1.0/oauth2/accessToken")
    assert r.status_code == 400 and r.json()["code"] == "Missingbody"


def test_same_token_while_valid_and_ttl_extended(dt, clock):
    t1 = dt.token()
    clock.advance(7000)
    t2 = dt.token()
    assert t2 == t1  # same token, lifetime extended to now + 7200
    clock.advance(7000)  # 14000 s after the first issue: alive only thanks to the extension
    r = dt.oapi("GET", "/chat/get", t1, params={"chatid": "chatnope"})
    assert r.json()["errcode"] == 40016  # token accepted, the chat is what's wrong
    clock.advance(201)  # past the extended expiry
    r = dt.oapi("GET", "/chat/get", t1, params={"chatid": "chatnope"})
    assert r.json() == {"errcode": 40014, "errmsg": "不合法的access_token"}
    t3 = dt.token()
    assert t3 != t1
    assert dt.oapi("GET", "/chat/get", t3, params={"chatid": "chatnope"}).json()["errcode"] == 40016


def test_expired_token_on_new_api(dt, clock):
    tok = dt.token()
    clock.advance(7200)
    r = dt.api("/v1.0/im/group/create", {"name": "g", "owner": "u1", "useridlist": ["u1"]}, tok)
    assert r.status_code == 400 and r.json()["code"] == "InvalidAuthentication"


def test_gettoken_legacy_shape_and_shared_token(dt):
    r = dt.http.get(f"{OAPI}/gettoken", params={"appkey": APP_KEY, "appsecret": APP_SECRET})
    assert r.status_code == 200
    body = r.json()
    assert body["errcode"] == 0 and body["errmsg"] == "ok" and body["expires_in"] == 7200
    # one token works for both families (§1.3)
    assert body["access_token"] == dt.token()


def test_gettoken_bad_credentials(dt):
    r = dt.http.get(f"{OAPI}/gettoken", params={"appkey": APP_KEY, "appsecret": "x"})
    assert r.status_code == 200
    assert r.json() == {"errcode": 40089, "errmsg": "不合法的corpId或corpSecret"}


def test_token_ttl_is_configurable(make_dt, clock):
    dt = make_dt(token_ttl_s=60)
    r = dt.http.post(f"{API}/v1.0/oauth2/accessToken", json={"appKey": APP_KEY, "appSecret": APP_SECRET})
    assert r.json()["expireIn"] == 60
    tok = r.json()["accessToken"]
    clock.advance(61)
    assert dt.oapi("GET", "/chat/get", tok, params={"chatid": "x"}).json()["errcode"] == 40014


# --- token checks per family ------------------------------------------------


def test_oapi_missing_and_unknown_token(dt):
    r = dt.oapi("POST", "/chat/send", None, json={})
    assert r.status_code == 200 and r.json() == {"errcode": 41001, "errmsg": "缺少access_token参数"}
    r = dt.oapi("POST", "/chat/send", "bogus", json={})
    assert r.status_code == 200 and r.json() == {"errcode": 40014, "errmsg": "不合法的access_token"}


def test_oapi_token_must_be_in_query_not_body(dt):
    tok = dt.token()
    r = dt.oapi("POST", "/chat/create", None, json={"access_token": tok, "name": "g", "owner": "u1", "useridlist": ["u1"]})
    assert r.json()["errcode"] == 41001


def test_topapi_token_errors_are_errcode_88(dt):
    r = dt.oapi("POST", "/topapi/im/chat/scenegroup/create", "bogus", json={})
    body = r.json()
    assert r.status_code == 200
    assert body["errcode"] == 88 and body["sub_code"] == "40014" and body["sub_msg"] == "不合法的access_token"
    assert body["success"] is False and body["request_id"]
    body = dt.oapi("POST", "/topapi/im/chat/scenegroup/get", None, json={}).json()
    assert body["errcode"] == 88 and body["sub_code"] == "41001"


def test_topapi_plain_codes_when_configured(make_dt):
    dt = make_dt(topapi_errcode88=False)
    assert dt.oapi("POST", "/topapi/im/chat/scenegroup/create", "bogus", json={}).json()["errcode"] == 40014


def test_api_token_header(dt):
    path = "/v1.0/im/group/create"
    body = {"name": "g", "owner": "u1", "useridlist": ["u1"]}
    r = dt.api(path, body)  # no header
    assert r.status_code == 401 and r.json()["code"] == "Unauthorized"
    r = dt.api(path, body, "bogus")
    assert r.status_code == 400
    err = r.json()
    assert set(err) == {"code", "message", "requestid"}
    assert err["code"] == "InvalidAuthentication" and err["message"] == "不合法的access_token"
    tok = dt.token()
    # the header value is used verbatim: a JSON-quoted token is invalid (§1.3)
    assert dt.api(path, body, f'"{tok}"').json()["code"] == "InvalidAuthentication"
    # ...and the token must be in the header, not the query
    r = dt.http.post(f"{API}{path}", params={"access_token": tok}, json=body)
    assert r.status_code == 401
    assert dt.api(path, body, tok).status_code == 200


def test_every_api_response_has_request_and_trace_ids(dt):
    tok = dt.token()
    responses = [
        dt.api("/v1.0/im/group/create", {"name": "g", "owner": "u1", "useridlist": ["u1"]}, tok),
        dt.api("/v1.0/im/group/create", {}, tok),
        dt.api("/v1.0/im/group/create", {}, "bad"),
        dt.api("/v1.0/nope", {}, tok),
    ]
    assert [r.status_code for r in responses] == [200, 400, 400, 404]
    ids = set()
    for r in responses:
        assert r.headers.get("x-acs-request-id") and r.headers.get("x-acs-trace-id")
        ids.add(r.headers["x-acs-request-id"])
        if r.status_code >= 400:
            assert r.json()["requestid"] == r.headers["x-acs-request-id"]
    assert len(ids) == 4
