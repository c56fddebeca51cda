"""The web extension reaches frontend internals through one door (issue 27 §3), checked without a browser.

`web/frontend_adapter.js` is the only file that may name the frontend's graph, canvas or change tracker, or read a
private (`._name`) member: when a frontend release moves them, that file alone changes. Every other `web/**/*.js`
goes through the adapter's functions. Comments are not code: a comment may mention `app.graph`.

Also: every `registerExtension` name is used once (ComfyUI loads every .js under web/, helper modules included, so
a helper that registered an extension would do it a second time under another file name), and each small helper
(a style sheet, a panel) has one definition."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[1] / "web"
ADAPTER = "frontend_adapter.js"
# what only the adapter may name: the graph, the canvas and the undo tracker of the app, and private members
FORBIDDEN = {
    "app.graph": re.compile(r"\bapp\s*\??\.\s*graph\b"),
    "app.canvas": re.compile(r"\bapp\s*\??\.\s*canvas\b"),
    "changeTracker": re.compile(r"\bchangeTracker\b"),
    "a ._ member": re.compile(r"[\w$\])]\s*\??\.\s*_[\w$]"),
}
BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
LINE_COMMENT = re.compile(r"(^|[\s;{}(),])//[^\n]*")


def code_of(text: str) -> str:
    """The JavaScript without its comments (a `//` inside a URL string is kept: it follows a ':')."""
    return LINE_COMMENT.sub(r"\1", BLOCK_COMMENT.sub(" ", text))


def web_files(web_dir: Path = WEB):
    return sorted(p for p in web_dir.rglob("*.js") if "docs" not in p.relative_to(web_dir).parts)


def internals_reached(web_dir: Path = WEB) -> list:
    """'file:line: what' for every forbidden name in a web file other than the adapter."""
    found = []
    for path in web_files(web_dir):
        if path.name == ADAPTER:
            continue
        for number, line in enumerate(code_of(path.read_text(encoding="utf-8")).splitlines(), 1):
            found += [f"{path.relative_to(web_dir)}:{number}: {what}: {line.strip()}"
                      for what, pattern in FORBIDDEN.items() if pattern.search(line)]
    return found


def test_only_the_adapter_reaches_frontend_internals():
    assert web_files(), "no web/*.js found"
    found = internals_reached()
    assert not found, ("frontend internals outside web/frontend_adapter.js (add a function there and call it):\n"
                       + "\n".join(found))


@pytest.mark.parametrize("line", [
    "const n = app.graph.getNodeById(id);",
    "w.callback?.(v, app.canvas, node);",
    "const t = app.extensionManager.workflow.activeWorkflow.changeTracker;",
    "const nodes = app.graph?._nodes ?? [];",
    "for (const n of graph._nodes) {}",
    "x = app?.graph;",
])
def test_the_check_finds_each_forbidden_form(tmp_path, line):
    (tmp_path / "some_extension.js").write_text(f"// a comment naming app.graph is fine\n{line}\n")
    (tmp_path / ADAPTER).write_text(f"{line}\n")  # the adapter may
    found = internals_reached(tmp_path)
    assert len(found) >= 1 and all(f.startswith("some_extension.js:2:") for f in found), found


def test_comments_and_urls_are_not_code(tmp_path):
    (tmp_path / "ok.js").write_text("/* app.graph and app.canvas */\nconst u = 'http://x/_y'; // app.graph._nodes\n"
                                    "const w = node.widgets; // changeTracker\n")
    assert internals_reached(tmp_path) == []


def test_each_extension_is_registered_once():
    names = []
    for path in web_files():
        names += re.findall(r"registerExtension\(\s*\{\s*name:\s*[\"']([^\"']+)", code_of(path.read_text()))
    assert names, "no registerExtension call found"
    assert len(names) == len(set(names)), sorted(names)


def test_helpers_have_one_definition():
    defined = {}
    for path in web_files():
        for name in re.findall(r"^(?:export\s+)?function\s+(addStyle|el)\b", path.read_text(), re.M):
            defined.setdefault(name, []).append(path.name)
    assert all(len(files) == 1 for files in defined.values()), defined
