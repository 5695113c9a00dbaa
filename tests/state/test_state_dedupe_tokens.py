"""Dedupe claims and the token cache on every backend."""

from __future__ import annotations

import threading

from state_support import age_dedupe_claim

from groupmsg.state.model import ORPHAN_AFTER_S, Run


def test_a_key_is_claimed_once(state) -> None:
    assert state.dedupe.claim("deploy-42", "run-a") is None
    assert state.dedupe.claim("deploy-42", "run-b") == "run-a"
    assert state.dedupe.claim("deploy-43", "run-b") is None


def test_a_dedupe_claim_whose_run_was_never_saved_is_taken_over(state) -> None:
    state.runs.save(Run(id="saved", kind="send", name="send"))
    assert state.dedupe.claim("k", "lost") is None
    assert state.dedupe.claim("k", "second") == "lost"  # fresh: its process may be saving it right now
    age_dedupe_claim(state, "k", ORPHAN_AFTER_S + 1)
    assert state.dedupe.claim("k", "third") is None  # old and never saved: taken over
    assert state.dedupe.claim("k", "fourth") == "third"
    assert state.dedupe.claim("s", "saved") is None
    age_dedupe_claim(state, "s", ORPHAN_AFTER_S + 1)
    assert state.dedupe.claim("s", "other") == "saved"  # old but its run exists: kept


def test_concurrent_refreshes_fetch_one_token(state) -> None:
    fetched = []

    def fetch() -> tuple[str, int]:
        fetched.append(1)
        return f"token-{len(fetched)}", 7200

    assert state.tokens.get("app") is None
    tokens = []
    threads = [threading.Thread(target=lambda: tokens.append(state.tokens.refresh("app", fetch, None)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fetched == [1] and set(tokens) == {"token-1"}
    assert state.tokens.get("app") == "token-1"
    assert state.tokens.refresh("app", fetch, "token-1") == "token-2"  # stale: replaced
    assert state.tokens.get("other") is None
