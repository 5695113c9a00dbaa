#!/usr/bin/env bash
# The Action's second step: one `groupmsg send`, its outputs (run-id, status, duplicate) for the
# workflow, and on failure groupmsg's own error as the step's error. The inputs arrive as GM_*.
set -euo pipefail
fail() { # MESSAGE: the step's error, as GitHub shows it
    local m="${1//'%'/%25}"
    m="${m//$'\r'/%0D}"
    echo "::error title=groupmsg::${m//$'\n'/%0A}"
}
out() { echo "$1=$2" >>"$GITHUB_OUTPUT"; }
out run-id ""
out status error
out duplicate false
export GROUPMSG_HOME="${GROUPMSG_HOME:-$RUNNER_TEMP/groupmsg-home}"

args=(--timeout "${GM_TIMEOUT:-60}")
if [ -n "$GM_WEBHOOK" ] && [ -n "$GM_GROUP" ]; then
    fail "give either webhook or group, not both"
    exit 2
elif [ -n "$GM_WEBHOOK" ]; then
    # The URL carries the robot's token: hidden in the log, and never written to the store (a
    # one-group registry file in RUNNER_TEMP names the variables that hold it and the secret).
    token="${GM_WEBHOOK#*access_token=}"
    [ "$token" = "$GM_WEBHOOK" ] || echo "::add-mask::${token%%&*}"
    registry="$RUNNER_TEMP/groupmsg-webhook.json"
    printf '[{"name": "webhook", "webhook_env": "GM_WEBHOOK"%s}]\n' "${GM_SECRET:+, \"secret_env\": \"GM_SECRET\"}" >"$registry"
    export GROUPMSG_REGISTRY_FILE="$registry"
    args+=(--group webhook)
elif [ -n "$GM_GROUP" ]; then
    [ -z "$GM_REGISTRY_FILE" ] || export GROUPMSG_REGISTRY_FILE="$GM_REGISTRY_FILE"
    args+=(--group "$GM_GROUP")
    [ -z "$GM_SECRET" ] || { fail "secret goes with webhook; a group of a registry file names its secret's variable (secret_env)"; exit 2; }
else
    fail "say where to send: webhook (and secret), or group (and registry-file)"
    exit 2
fi

if [ -n "$GM_MARKDOWN" ] && [ -n "$GM_TEXT" ]; then
    fail "give either text or markdown, not both"
    exit 2
fi
body="$GM_TEXT$GM_MARKDOWN"
if [ -n "$GM_MESSAGE_FILE" ]; then # the whole message, any kind
    [ -z "$body$GM_BUTTONS$GM_LINK" ] || { fail "message-file is the whole message: give no text, markdown, buttons or link with it"; exit 2; }
    args+=(--message "$GM_MESSAGE_FILE")
elif [ -n "$GM_BUTTONS" ]; then # an action card: text or markdown is its markdown
    while IFS= read -r button; do
        button="${button#"${button%%[![:space:]]*}"}"
        [ -z "$button" ] || args+=(--button "${button%"${button##*[![:space:]]}"}")
    done <<<"$GM_BUTTONS"
    [ "$GM_HORIZONTAL" != "true" ] || args+=(--horizontal)
elif [ -n "$GM_LINK" ]; then
    args+=(--link "$GM_LINK")
elif [ -n "$GM_MARKDOWN" ]; then
    args+=(--markdown)
fi
[ -z "$GM_TITLE" ] || args+=(--title "$GM_TITLE")
[ -z "$GM_DEDUPE_KEY" ] || args+=(--dedupe-key "$GM_DEDUPE_KEY")
for mobile in ${GM_AT_MOBILES//,/ }; do args+=(--at-mobile "$mobile"); done
[ "$GM_AT_ALL" != "true" ] || args+=(--at-all)

result="$RUNNER_TEMP/groupmsg-result.json"
errors="$RUNNER_TEMP/groupmsg-errors.txt"
set +e
if [ -n "$GM_MESSAGE_FILE" ]; then
    "$GM_BIN" send "${args[@]}" --json </dev/null >"$result" 2>"$errors"
else
    printf '%s' "$body" | "$GM_BIN" send "${args[@]}" --json - >"$result" 2>"$errors"
fi
code=$?
set -e
cat "$errors" >&2
python="$(dirname "$GM_BIN")/python"
"$python" - "$result" "$GITHUB_OUTPUT" "$code" <<'PY' || code=$?
import json, sys

def annotate(message):  # a workflow command: % and new lines escaped
    print("::error title=groupmsg::" + message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))

try:
    run = json.load(open(sys.argv[1], encoding="utf-8"))
except ValueError:
    run = None  # nothing was sent: groupmsg said why on stderr
if isinstance(run, dict) and "id" in run:
    duplicate = bool(run.get("duplicate"))
    with open(sys.argv[2], "a", encoding="utf-8") as out:
        out.write(f"run-id={run['id']}\nstatus={run.get('status', '')}\nduplicate={str(duplicate).lower()}\n")
    if sys.argv[3] == "0":
        print(f"already sent (run {run['id']}): nothing sent again" if duplicate else f"sent (run {run['id']})")
    else:  # each failed delivery, with DingTalk's code and the fix, as `groupmsg send` prints it on a terminal
        for step in [s for s in run.get("steps", []) if s.get("status") != "succeeded"][:10]:
            err = step.get("error") or {}
            text = f"{step.get('name')}: {err.get('message') or step.get('status')}"
            print(f"Error: {text}" + (f"\n  Hint: {err['hint']}" if err.get("hint") else ""), file=sys.stderr)
            annotate(text + (f" ({err['hint']})" if err.get("hint") else ""))
        sys.exit(int(sys.argv[3]) + 100)  # annotated here
PY
if [ "$code" -gt 100 ]; then
    exit $((code - 100))
elif [ "$code" -ne 0 ]; then
    message="$(sed -n 's/^Error: //p' "$errors" | head -n1)"
    fail "${message:-groupmsg send failed (exit $code)}"
    exit "$code"
fi
