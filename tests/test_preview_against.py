"""``python -m tools.preview STACK --against REF``: the offline preview runs the replacement guard."""

from __future__ import annotations

from tools import preview


def test_preview_against_a_ref_that_does_not_exist_stops_naming_it(capsys):
    assert preview.main(["staging", "--against", "no-such-ref-for-preview"]) == 2
    assert "'no-such-ref-for-preview'" in capsys.readouterr().err
