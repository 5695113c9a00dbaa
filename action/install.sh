#!/usr/bin/env bash
# The Action's first step: groupmsg installed from the action's own checkout ($GITHUB_ACTION_PATH)
# into a venv in RUNNER_TEMP (once per job and version of the action), with the runner's python3.
set -euo pipefail
py="$(command -v python3 || true)"
if [ -z "$py" ] || ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "::error title=groupmsg::groupmsg needs Python 3.11 or later; python3 here is ${py:+$("$py" --version 2>&1)}${py:-missing}. Add actions/setup-python (python-version: '3.12') before this step."
    exit 1
fi
venv="$RUNNER_TEMP/groupmsg-$(printf '%s' "$GITHUB_ACTION_PATH" | cksum | cut -d' ' -f1)"
spec="$GITHUB_ACTION_PATH"
case "${GROUPMSG_STORE:-}" in redis://* | rediss://*) spec="$GITHUB_ACTION_PATH[redis]" ;; esac
need=""
[ -x "$venv/bin/groupmsg" ] || need=1
if [ "$spec" != "$GITHUB_ACTION_PATH" ] && ! "$venv/bin/python" -c 'import redis' 2>/dev/null; then need=1; fi
if [ -n "$need" ]; then
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec"
fi
"$venv/bin/groupmsg" --version
echo "bin=$venv/bin/groupmsg" >>"$GITHUB_OUTPUT"
