"""Live events are sealed on the wire: bound to their tenant and their channel key, opened by any process that
knows the master key (including one being rotated out)."""

from __future__ import annotations

import pytest

from parley.conversations.live_wire import org_of
from parley.kit.crypto import DecryptionError
from tests.live.support import sealer

EVENT = {"type": "message", "message": {"text": "My card number is on the booking, Sam"}}


def test_a_sealed_event_opens_for_its_key_and_org() -> None:
    frame = sealer().seal("cnv_1", "org_a", EVENT)
    assert b"booking" not in frame and frame.startswith(b"org_a.")
    assert sealer().open("cnv_1", frame) == ("org_a", EVENT)


def test_a_frame_moved_to_another_key_or_tenant_does_not_open() -> None:
    frame = sealer().seal("cnv_1", "org_a", EVENT)
    with pytest.raises(DecryptionError):
        sealer().open("cnv_2", frame)
    with pytest.raises(DecryptionError):
        sealer().open("cnv_1", b"org_b" + frame[len(b"org_a") :])
    with pytest.raises(DecryptionError):
        sealer(b"x" * 32).open("cnv_1", frame)
    with pytest.raises(DecryptionError):
        sealer().open("cnv_1", b"no dot here")


def test_a_process_still_holding_the_previous_master_key_opens_frames_of_both() -> None:
    old, new = b"o" * 32, b"n" * 32
    rotated = sealer(new, previous=(old,))
    assert rotated.open("k", sealer(old).seal("k", "org_a", EVENT))[1] == EVENT
    assert sealer(new).open("k", rotated.seal("k", "org_a", EVENT))[1] == EVENT


def test_the_org_of_an_inbox_key_is_its_own() -> None:
    assert org_of("org:org_7", None) == "org_7"
    assert org_of("cnv_1", "org_7") == "org_7"
    assert org_of("cnv_1", None) == "-"
