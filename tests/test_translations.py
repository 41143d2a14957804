"""The zh_CN catalogue covers every user-visible string in the code and templates."""

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "fieldapp" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"


def extract_source_messages(tmp_path) -> set[str]:
    template = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
         "-o", str(template), "--no-location", "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with template.open("rb") as handle:
        return {message.id if isinstance(message.id, str) else message.id[0]
                for message in read_po(handle) if message.id}


def test_catalogue_translates_every_source_string(tmp_path):
    source_ids = extract_source_messages(tmp_path)
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    translated = set()
    for message in catalogue:
        if not message.id or message.fuzzy:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if all(strings):
            translated.add(message.id if isinstance(message.id, str) else message.id[0])
    missing = sorted(source_ids - translated)
    assert not missing, f"{len(missing)} strings lack a zh_CN translation; run `make extract-messages`: {missing[:20]}"


def test_catalogue_placeholders_match():
    placeholder = re.compile(r"%\((\w+)\)[sdf]")
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    for message in catalogue:
        if not message.id or not message.string:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        target = message.string if isinstance(message.string, str) else message.string[0]
        assert set(placeholder.findall(source)) == set(placeholder.findall(target)), source
