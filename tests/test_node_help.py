"""Every node's help page, the one the ComfyUI frontend shows from its node help (both 1.27 and 1.58 request
/extensions/<pack>/docs/<node id>/<locale>.md, then /extensions/<pack>/docs/<node id>.md): web/docs/<id>.md in
English and web/docs/<id>/<lang>.md for every other language of locales/. Each page names every input and output
of the live node definition, starts with the node's name in its language, and shows only small pictures that are
there (relative paths resolve against web/docs/, whichever page refers to them)."""
from __future__ import annotations

import importlib.util
import re
import sys
import xml.dom.minidom
from pathlib import Path

import pytest

from instantid_testkit.comfy_env import comfy_env

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "web" / "docs"
_spec = importlib.util.spec_from_file_location("build_locales", ROOT / "scripts" / "build_locales.py")
bl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bl)
LANGUAGES = bl.languages()
MAX_IMAGE_BYTES = 16_000
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def page_path(node_id: str, lang: str) -> Path:
    return DOCS / f"{node_id}.md" if lang == "en" else DOCS / node_id / f"{lang}.md"


def all_pages():
    return sorted(DOCS.glob("*.md")) + sorted(DOCS.glob("*/*.md"))


@pytest.fixture(scope="module")
def infos(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy"))
    mappings = sys.modules[env.module].NODE_CLASS_MAPPINGS
    return {node_id: bl.object_info(node_id, cls) for node_id, cls in mappings.items()}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_node_has_a_page_that_names_every_input_and_output(infos, lang):
    problems = []
    for node_id, info in sorted(infos.items()):
        page = page_path(node_id, lang)
        if not page.is_file():
            problems.append(f"{page.relative_to(ROOT)} is missing")
            continue
        text = page.read_text(encoding="utf-8")
        names = [name for name, _ in bl.node_inputs(info)] + list(info["output_name"])
        problems += [f"{page.relative_to(ROOT)} does not name `{name}`" for name in names if f"`{name}`" not in text]
    assert not problems, "\n".join(problems)


def test_no_page_for_a_node_that_does_not_exist(infos):
    stale = [p.relative_to(ROOT) for p in all_pages()
             if (p.stem if p.parent == DOCS else p.parent.name) not in infos
             or (p.parent != DOCS and p.stem not in LANGUAGES)]
    assert not stale, stale


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_page_starts_with_the_nodes_name_in_its_language(lang):
    names = {node_id: d["display_name"] for node_id, d in bl.read_locale(lang)["nodeDefs.json"].items()}
    wrong = [f"{page_path(n, lang).name}: {page_path(n, lang).read_text(encoding='utf-8').splitlines()[:1]} "
             f"!= '# {name}'" for n, name in names.items()
             if page_path(n, lang).is_file() and not page_path(n, lang).read_text(encoding="utf-8").startswith(f"# {name}\n")]
    assert not wrong, wrong


def test_pictures_exist_are_small_svg_and_are_used():
    used = set()
    for page in all_pages():
        for ref in IMAGE.findall(page.read_text(encoding="utf-8")):
            assert not ref.startswith(("/", "http:", "https:", "..")), f"{page.name}: {ref} (relative to web/docs/)"
            used.add(ref)
            assert (DOCS / ref).is_file(), f"{page.relative_to(ROOT)} shows {ref}, which is not in web/docs/"
    assert used, "no page shows a picture"
    for picture in sorted((DOCS / "images").iterdir()):
        assert picture.relative_to(DOCS).as_posix() in used, f"{picture.name} is not shown by any page"
        assert picture.stat().st_size <= MAX_IMAGE_BYTES, f"{picture.name}: {picture.stat().st_size} bytes"
        root = xml.dom.minidom.parse(str(picture)).documentElement
        assert root.tagName == "svg" and root.getAttribute("viewBox"), picture.name
