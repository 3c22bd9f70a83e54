"""Cockpit tokens as every store keeps them: listed by name, revoked by name, at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from store_builders import at

from retailflow.model import ApiToken, NotFoundError, RetailflowError, Role
from retailflow.stores import Store


def _token(name: str, role: Role = Role.VIEWER, seconds: float = 0) -> ApiToken:
    return ApiToken(name, role, f"{name:0>64}"[-64:], at(seconds))


def test_tokens_are_listed_by_name_with_role_and_creation_time(store: Store) -> None:
    store.save_token(_token("zoe", Role.OPERATOR, 5))
    store.save_token(_token("ann", Role.VIEWER, 9))

    assert store.list_tokens() == [_token("ann", Role.VIEWER, 9), _token("zoe", Role.OPERATOR, 5)]


def test_a_revoked_token_is_found_by_no_one_and_listed_no_more(
    open_stores: Callable[[], Store],
) -> None:
    store = open_stores()
    store.save_token(_token("ann"))
    store.save_token(_token("bob"))

    store.revoke_token("ann")

    other = open_stores()  # another process sharing the database sees it at once
    assert other.find_token(_token("ann").token_hash) is None
    assert other.find_token(_token("bob").token_hash) == _token("bob")
    assert [t.name for t in other.list_tokens()] == ["bob"]


def test_revoking_an_unknown_token_says_so(store: Store) -> None:
    store.save_token(_token("ann"))
    store.revoke_token("ann")

    with pytest.raises(NotFoundError, match="no token named 'ann'"):
        store.revoke_token("ann")


def test_a_revoked_name_may_be_given_to_a_new_token(store: Store) -> None:
    store.save_token(_token("ann"))
    with pytest.raises(RetailflowError, match="exists already"):
        store.save_token(_token("ann"))

    store.revoke_token("ann")
    store.save_token(ApiToken("ann", Role.OPERATOR, "f" * 64, at(30)))

    assert store.list_tokens() == [ApiToken("ann", Role.OPERATOR, "f" * 64, at(30))]
