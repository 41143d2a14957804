"""ID number normalisation shared by the register and registry imports: invisible characters."""

import pytest

from fieldapp.register import parsing

ID = "11010519491231002X"


@pytest.mark.parametrize("mark", ["\u200b", "\ufeff", "\u200c", "\u200d", "\u2060"])
@pytest.mark.parametrize("written", ["{m}" + ID, ID + "{m}", ID[:6] + "{m}" + ID[6:], "{m}'" + ID,
                                     "'{m}" + ID, '="{m}' + ID + '"', " {m} " + ID.lower() + "{m}"])
def test_invisible_characters_removed(app, mark, written):
    assert parsing.to_id_number(written.format(m=mark)) == ID


def test_other_characters_kept(app):
    assert parsing.to_id_number(ID + "·") == ID + "·"
