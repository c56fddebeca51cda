"""The README and docs/ render as their authors meant: parsed with a CommonMark parser (markdown-it-py, the parser
behind many Markdown renderers), every code fence is closed where it should be, the README's sections are real
headings (not swallowed by a fence, as a committed merge conflict once made them), and every relative link and
image points at a file of this repository (and at a heading of it, when it names one)."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Dict, List, Tuple
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README] + DOCS
# the front page's sections, in order; anything else lives in docs/
README_SECTIONS = ["Install", "Your first image", "Example photos and their licence", "Tests", "More", "Licence"]
README_MAX_WORDS = 1400


def parse(text: str):
    return MarkdownIt("commonmark").parse(text)


def unclosed_fences(text: str) -> List[int]:
    """1-based opening lines of fenced code blocks that no closing fence ends: CommonMark runs such a block to the
    end of the document (or of its container), so all that follows renders as code."""
    lines = text.splitlines()
    bad = []
    for tok in parse(text):
        if tok.type != "fence":
            continue
        start, end = tok.map
        last = lines[end - 1].strip() if end - 1 > start else ""
        closes = len(last) >= len(tok.markup) and set(last) == {tok.markup[0]}
        if not closes:
            bad.append(start + 1)
    return bad


def plain_text(inline) -> str:
    return "".join(c.content for c in (inline.children or []) if c.type in ("text", "code_inline"))


def heading_texts(text: str) -> List[Tuple[int, str]]:
    tokens = parse(text)
    return [(int(tok.tag[1]), plain_text(tokens[i + 1])) for i, tok in enumerate(tokens) if tok.type == "heading_open"]


def anchors(text: str) -> set:
    """The anchors GitHub gives the headings: lower case, punctuation dropped, spaces to hyphens, -1, -2 … for
    repeats."""
    seen: Dict[str, int] = {}
    out = set()
    for _, title in heading_texts(text):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def relative_targets(text: str) -> List[str]:
    targets = []
    for tok in parse(text):
        for child in tok.children or []:
            url = child.attrGet("href") if child.type == "link_open" else (
                child.attrGet("src") if child.type == "image" else None)
            if url and not urlsplit(url).scheme and not url.startswith("//"):
                targets.append(url)
    return targets


def broken_links(page: Path) -> List[str]:
    text = page.read_text(encoding="utf-8")
    broken = []
    for url in relative_targets(text):
        path, _, fragment = url.partition("#")
        target = (page.parent / unquote(path)).resolve() if path else page
        if not target.exists() or ROOT not in [target, *target.parents]:
            broken.append(f"{url} (no such file)")
        elif fragment and target.suffix == ".md" and fragment not in anchors(target.read_text(encoding="utf-8")):
            broken.append(f"{url} (no heading #{fragment} in {target.name})")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_fence_is_closed(page):
    assert unclosed_fences(page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_image_resolves(page):
    assert broken_links(page) == []


def test_readme_sections_are_headings_in_order():
    text = README.read_text(encoding="utf-8")
    headings = heading_texts(text)
    assert headings[0][0] == 1
    assert [t for level, t in headings if level == 2] == README_SECTIONS


def test_readme_is_a_front_page():
    text = README.read_text(encoding="utf-8")
    assert len(text.split()) <= README_MAX_WORDS, "move detail into docs/ and link to it"
    first = next(tok for tok in parse(text) if tok.type == "fence")  # the two commands come first
    assert "download" in first.content and "bash scripts/test.sh" in first.content
    linked = {urlsplit(u).path for u in relative_targets(text)}
    assert {f"docs/{p.name}" for p in DOCS} <= linked, "every docs/ page is reachable from the front page"


# --- the checks themselves catch what they are for -------------------------------------------------------------

def test_an_unclosed_or_swallowing_fence_is_caught():
    assert unclosed_fences("# t\n\n```bash\necho hi\n```\n\n~~~~\nx\n~~~~~\n") == []
    assert unclosed_fences("# t\n\n```mermaid\nflowchart LR\n\n## Nodes\n\ntext\n") == [3]
    assert unclosed_fences("- item\n\n  ```\n  code\n") == [3]
    # d442b7c's shape: a conflict marker between a fence's opening and its closing line, the fence closed 160 lines
    # later: closed, but the sections in between are no longer headings
    merged = "# t\n\n```mermaid\nflowchart LR\n=======\n## Nodes\n\n```\n\n## More\n"
    assert unclosed_fences(merged) == []
    assert [t for _, t in heading_texts(merged)] == ["t", "More"]


def test_broken_links_and_anchors_are_caught(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Where it is: `here`\n")
    page = tmp_path / "README.md"
    page.write_text("[ok](docs/a.md) [ok](docs/a.md#where-it-is-here) ![gone](img/x.png) [gone](docs/b.md) "
                    "[bad](docs/a.md#nowhere) [web](https://example.com/x.md) [self](#t) [outside](../x.md)\n\n# T\n")
    (tmp_path.parent / "x.md").write_text("outside the repository")
    assert broken_links(page) == ["img/x.png (no such file)", "docs/b.md (no such file)",
                                  "docs/a.md#nowhere (no heading #nowhere in a.md)", "../x.md (no such file)"]
