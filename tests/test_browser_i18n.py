"""The pack's translations and help pages in a real ComfyUI server and the real frontend (headless Chromium).

ComfyUI serves locales/<lang>/*.json at /i18n and web/docs/ under /extensions/<pack>/docs/; /object_info (its own
node_info code) carries every tooltip. In the page the user's language is switched with the Comfy.Locale setting
(zh, then ja) and the page reloaded (frontend 1.58 names canvas nodes when it loads): the placed InstantID node's
title, an input's label and a widget's tooltip (shown by hovering over it) are in that language, so are the web
extension's own texts, and the node's help (the selection toolbox's info button) shows the page written in that
language, picture included. English is checked the same way first.

Skipped unless ComfyUI (COMFYUI_PATH) and Chromium are available."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from browser_support import COMFY, ComfyServer, needs_browser, open_app
from browser_support.frontends import CLASSIC, frontend_fixture
from browser_support.session import BENIGN, Session, chromium  # noqa: F401  (chromium: the module's browser fixture)

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("build_locales", REPO / "scripts" / "build_locales.py")
bl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bl)
pytestmark = needs_browser

NODE = "InstantIDPrecision_Apply"  # its help page shows the basic-graph picture
WIDGET = "ip_weight"
SLOT = "positive"
PICTURE = "docs/images/basic_graph.svg"
HEADINGS = {"en": "Typical values", "zh": "常用设置", "ja": "よく使う値"}  # a heading of every page, per language


class I18nSession(Session):
    # frontend 1.58's split panes warn about their own sizes when the help opens in a side panel
    benign = BENIGN + ("Invalid layout total size",)

    def reopen(self, browser):
        """A new page on the same server (as after a reload: the settings stay), with the node placed on it."""
        if self.page is not None:
            self.page.close()
        self.page = open_app(browser, self.server)
        self.ids = self.call("build", {"apply": {"type": NODE, "pos": [300, 200]}})


frontend = frontend_fixture(CLASSIC)


@pytest.fixture(scope="module")
def ui(tmp_path_factory, chromium, frontend):  # noqa: F811
    tmp = tmp_path_factory.mktemp("i18n")
    server = ComfyServer(COMFY, tmp, frontend=frontend)
    server.tiny_models = False  # nothing runs here
    server.start()
    s = I18nSession(server, None, tmp / "screens")
    s.reopen(chromium)
    yield s
    set_locale(s, "en")
    s.page.close()
    server.stop()


def set_locale(ui, lang: str):
    ui.page.js(f"window.comfyAPI.app.app.extensionManager.setting.set('Comfy.Locale', {json.dumps(lang)})")
    ui.page.wait_for("document.querySelector('[data-v-app]').__vue_app__.config.globalProperties.$i18n.locale === "
                     f"{json.dumps(lang)}", timeout=10, what=f"the frontend's language to become {lang}")
    ui.page.pump(0.5)


# the placed node's title, the label of its widget WIDGET and of its input slot SLOT, as the canvas shows them
NODE_VIEW = f"""(() => {{
    const n = window.comfyAPI.app.app.graph.nodes.find((x) => x.type === {json.dumps(NODE)});
    const w = n.widgets.find((x) => x.name === {json.dumps(WIDGET)});
    const s = n.inputs.find((x) => x.name === {json.dumps(SLOT)});
    return {{ title: n.title, widget: w.label ?? w.name, slot: s.label ?? s.localized_name ?? s.name }};
}})()"""


def node_view(ui) -> dict:
    return ui.page.js(NODE_VIEW)


def hover_tooltip(ui) -> str:
    """Move the mouse onto the widget, as a user does, and read the tooltip the frontend shows."""
    ui.call("focus", [ui.ids["apply"]], 1.0)
    rect = ui.call("screenRect", ui.ids["apply"], WIDGET)
    for dx in (0, 1):  # two moves: the frontend shows a tooltip once the pointer rests
        ui.page.send("Input.dispatchMouseEvent", type="mouseMoved", x=rect["x"] + rect["width"] / 2 + dx,
                     y=rect["y"] + rect["height"] / 2)
        ui.page.pump(0.2)
    text = ui.page.wait_for("(() => { const t = [...document.querySelectorAll('.node-tooltip')]"
                            ".find((e) => e.offsetParent !== null); return t ? t.innerText.trim() : ''; })()",
                            timeout=10, what="the widget's tooltip")
    ui.page.send("Input.dispatchMouseEvent", type="mouseMoved", x=5, y=300)  # away, so the next hover shows anew
    ui.page.pump(0.3)
    return text


def open_help(ui, lang: str) -> dict:
    """Select the node by clicking its title, press the selection toolbox's info button, wait for the page."""
    rect = ui.call("screenRect", ui.ids["apply"])
    for kind in ("mousePressed", "mouseReleased"):
        ui.page.send("Input.dispatchMouseEvent", type=kind, x=rect["x"] + 40, y=rect["y"] + 10, button="left",
                     clickCount=1)
    ui.page.wait_for("!!document.querySelector('[data-testid=info-button]')", timeout=10,
                     what="the selection toolbox")
    ui.page.js("document.querySelector('[data-testid=info-button]').click()")
    heading = json.dumps(HEADINGS[lang])
    return ui.page.wait_for(f"""(() => {{
        const h = [...document.querySelectorAll('h2')].find((e) => e.innerText.trim() === {heading}
            && e.offsetParent !== null);
        if (!h) return null;
        let box = h.parentElement;
        while (box && !box.querySelector('h1')) box = box.parentElement;
        const img = box?.querySelector('img[src$="{PICTURE}"]');
        return box && img?.complete && img.naturalWidth > 0
            ? {{ title: box.querySelector('h1').innerText.trim(), text: box.innerText, picture: img.naturalWidth }}
            : null;
    }})()""", timeout=20, what=f"the {lang} help page of {NODE}")


def close_help(ui):
    ui.page.js("document.querySelector('[data-testid=info-button]')?.click()")
    ui.page.pump(0.5)


def toast_of_a_conversion_without_cubiq_nodes(ui) -> str:
    """The message the extension hands the frontend's toast service when asked to convert a graph that has no
    cubiq node (read at the service: the toasts' markup differs between frontend versions)."""
    return ui.page.js("""(async () => {
        const toast = window.comfyAPI.app.app.extensionManager.toast;
        const add = toast.add;
        const shown = [];
        toast.add = (message) => { shown.push(message); return add.call(toast, message); };
        try { await window.InstantIDMigration.convertCurrentWorkflow(); } finally { toast.add = add; }
        return shown.map((m) => m.detail).join("\\n");
    })()""")


def web_text(ui, key: str, english: str, params: dict | None = None) -> str:
    module = f"/extensions/{ui.server.pack_name}/instantid_i18n.js"
    return ui.page.js(f"import({json.dumps(module)}).then((m) => m.t({json.dumps(key)}, {json.dumps(english)}, "
                      f"{json.dumps(params)}))")


# ------------------------------------------------------------------------------------------------------------

def test_server_serves_every_language_and_every_tooltip(ui):
    served = ui.server.get_json("/i18n")
    for lang in bl.languages():
        mine = bl.read_locale(lang)
        assert {k: served[lang]["nodeDefs"][k] for k in mine["nodeDefs.json"]} == mine["nodeDefs.json"], lang
        assert served[lang][bl.NAMESPACE] == mine["main.json"][bl.NAMESPACE], lang
        assert served[lang]["commands"] == mine["commands.json"], lang
    # ComfyUI's own /object_info (server.py node_info): every tooltip there, and the English locale made from it
    info = {k: v for k, v in ui.server.get_json("/object_info").items() if k.startswith(bl.ID_PREFIX)}
    assert len(info) >= 11
    for node_id, entry in info.items():
        assert all(opts.get("tooltip") for _, opts in bl.node_inputs(entry)), node_id
        assert len(entry.get("output_tooltips", [])) == len(entry["output"]) and all(entry["output_tooltips"]), node_id
    assert bl.node_defs(info) == bl.read_locale("en")["nodeDefs.json"]


def test_help_pages_and_pictures_are_served_where_the_frontend_looks(ui):
    base = f"/extensions/{ui.server.pack_name}/docs"
    for node_id in bl.read_locale("en")["nodeDefs.json"]:
        for path in [f"{base}/{node_id}.md"] + [f"{base}/{node_id}/{lang}.md" for lang in bl.languages() if lang != "en"]:
            status, body = ui.server.get_bytes(path)
            assert status == 200 and body.decode("utf-8").startswith("# "), path
    status, body = ui.server.get_bytes(f"/extensions/{ui.server.pack_name}/{PICTURE}")
    assert status == 200 and b"<svg" in body


def test_english_node_and_its_help_page(ui):
    since = ui.mark()
    english = bl.read_locale("en")["nodeDefs.json"][NODE]
    view = node_view(ui)
    assert view == {"title": english["display_name"], "widget": WIDGET, "slot": SLOT}, view
    assert hover_tooltip(ui) == english["inputs"][WIDGET]["tooltip"]
    page = open_help(ui, "en")
    assert page["title"] == english["display_name"] and f"{WIDGET}" in page["text"], page
    close_help(ui)
    assert not ui.problems(since), ui.problems(since)


def test_parameters_are_shown_as_typed_never_html_escaped(ui):
    """The frontend's i18n HTML-escapes interpolated values (1.49 and 1.58): a parameter with / & < > " ' comes
    back from the pack's t() as typed, as the missing-models panel's download command must (it is set as text)."""
    texts = bl.read_locale("en")["main.json"][bl.NAMESPACE]
    command = "python custom_nodes/comfyui-instantid download --only a&b <x> \"q\" 'y'"
    shown = web_text(ui, "models.source", texts["models"]["source"], {"command": command})
    assert shown == texts["models"]["source"].format(command=command), shown
    assert "&#" not in shown and "&amp;" not in shown and "&lt;" not in shown


@pytest.mark.parametrize("lang", ["zh", "ja"])
def test_switching_the_language_translates_the_node_its_help_and_the_extension(ui, chromium, lang):  # noqa: F811
    theirs = bl.read_locale(lang)
    node = theirs["nodeDefs.json"][NODE]
    set_locale(ui, lang)
    # frontend 1.27 renames the nodes on the canvas at once, 1.58 when the page loads: reload, as a user would
    ui.reopen(chromium)
    since = ui.mark()
    assert node_view(ui) == {"title": node["display_name"], "widget": node["inputs"][WIDGET]["name"],
                             "slot": node["inputs"][SLOT]["name"]}
    assert hover_tooltip(ui) == node["inputs"][WIDGET]["tooltip"]
    # the web extension's own texts, with their placeholders filled in
    texts = theirs["main.json"][bl.NAMESPACE]
    box = web_text(ui, "faces.box", "{index}: {width}×{height} at ({x},{y})",
                   {"index": 0, "width": 128, "height": 128, "x": 96, "y": 160})
    assert box == texts["faces"]["box"].format(index=0, width=128, height=128, x=96, y=160)
    assert toast_of_a_conversion_without_cubiq_nodes(ui) == texts["migrate"]["nothingToConvert"]
    # the node's help, in this language
    page = open_help(ui, lang)
    assert page["title"] == node["display_name"], page
    assert node["inputs"][WIDGET]["tooltip"] in page["text"] and f"{WIDGET}" in page["text"]
    close_help(ui)
    assert not ui.problems(since), ui.problems(since)
