"""The Simplified Chinese catalogue covers every user-visible string, and pages use it.

Babel names the zh_CN locale ``zh_Hans_CN`` and looks its catalogue up under that
name, so the catalogue folder is ``zh_Hans_CN``.
"""

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "fieldapp" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"


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
    assert not missing, (
        f"{len(missing)} strings lack a zh_CN translation; run `make extract-messages`: {missing[:20]}"
    )


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


def test_login_page_is_chinese_by_default(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh_CN")
    text = client.get("/login").get_data(as_text=True)
    assert "登录" in text
    assert 'lang="zh-CN"' in text


def test_login_page_in_english_after_switch(client):
    client.set_cookie("lang", "en", domain="localhost.localdomain")
    text = client.get("/login").get_data(as_text=True)
    assert "Log in" in text
    assert "登录" not in text
