"""Regenerate the pack's English locale, locales/en/, from the real node definitions and the web extension.

    COMFYUI_PATH=/path/to/ComfyUI python scripts/build_locales.py           # writes locales/en/*.json
    COMFYUI_PATH=/path/to/ComfyUI python scripts/build_locales.py --check   # says what is out of date, exit 1

* nodeDefs.json: every registered node of the pack as ComfyUI's /object_info describes it (display name,
  description, each input's name and tooltip, each output's name and tooltip) in the schema the ComfyUI frontend
  reads for its own nodes: {node id: {display_name, description, inputs: {input: {name, tooltip}},
  outputs: {"0": {name, tooltip}}}}. An output whose name is its type gets no "name": the frontend shows its
  own translation of the type there.
* main.json: the web extension's texts, every t("key", "English") call in web/*.js, under "instantidPrecision",
  and the Edit menu entry's label under the frontend's "menuLabels"; commands.json: the command's label.

The other languages are translated by hand from these files (locales/README.md); tests/test_locales.py keeps
their keys in step with these. Only the functions at the bottom need ComfyUI; the rest is plain data."""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Dict, Iterable, Set, Tuple

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "locales"
WEB = ROOT / "web"
I18N_MODULE = "instantid_i18n.js"  # defines t(); every other web/*.js file is scanned for its calls
ID_PREFIX = "InstantIDPrecision_"
NAMESPACE = "instantidPrecision"  # main.json key of the web extension's texts (web/instantid_i18n.js)
FILES = ("main.json", "nodeDefs.json", "commands.json")

_STRING = r'"(?:[^"\\\n]|\\.)*"'
# t("key", "English" [+ "more English" ...]: the calls web/instantid_i18n.js documents
_CALL = re.compile(r'\bt\(\s*"([\w.]+)"\s*,\s*((?:' + _STRING + r'\s*\+\s*)*' + _STRING + r')\s*[,)]')
_CONST = re.compile(r'\bconst\s+(COMMAND_ID|COMMAND_LABEL|MENU_LABEL)\s*=\s*(' + _STRING + r')\s*;')


def i18n_key(name: str) -> str:
    """The frontend's normalizeI18nKey: a dot would split the key path."""
    return name.replace(".", "_")


# ---------------------------------------------------------------------------------------------- node definitions

def object_info(node_id: str, node_class) -> dict:
    """The fields of ComfyUI's /object_info entry (server.py node_info) that the locale holds."""
    from instantid_core.workflow_formats.widget_specs import node_definition  # plain data
    info = node_definition(node_class)
    info.update(name=node_id, display_name=getattr(node_class, "DISPLAY_NAME", "") or node_id,
                description=getattr(node_class, "DESCRIPTION", ""))
    if hasattr(node_class, "OUTPUT_TOOLTIPS"):
        info["output_tooltips"] = list(node_class.OUTPUT_TOOLTIPS)
    return info


def node_inputs(info: dict) -> Iterable[Tuple[str, dict]]:
    """(name, options) of every visible input, in the node's order."""
    for section in ("required", "optional"):
        specs = info.get("input", {}).get(section, {})
        for name in info.get("input_order", {}).get(section, list(specs)):
            spec = specs[name]
            opts = spec[1] if isinstance(spec, (list, tuple)) and len(spec) > 1 and isinstance(spec[1], dict) else {}
            yield name, opts


def node_def_entry(info: dict) -> dict:
    entry = {"display_name": info.get("display_name") or info["name"]}
    if info.get("description"):
        entry["description"] = info["description"]
    entry["inputs"] = {}
    for name, opts in node_inputs(info):
        entry["inputs"][i18n_key(name)] = {"name": name, **({"tooltip": opts["tooltip"]} if opts.get("tooltip") else {})}
    tips = list(info.get("output_tooltips") or [])
    names = list(info.get("output_name") or info.get("output") or [])
    outputs = {}
    for i, kind in enumerate(info.get("output") or []):
        out = {}
        if names[i] != kind:
            out["name"] = names[i]
        if i < len(tips) and tips[i]:
            out["tooltip"] = tips[i]
        outputs[str(i)] = out
    if outputs:
        entry["outputs"] = outputs
    return entry


def node_defs(infos: Dict[str, dict]) -> dict:
    """nodeDefs.json for the pack's nodes among ``infos`` ({node id: /object_info entry})."""
    return {node_id: node_def_entry(info) for node_id, info in sorted(infos.items()) if node_id.startswith(ID_PREFIX)}


# ---------------------------------------------------------------------------------------------- web extension

def _literal(source: str) -> str:
    return "".join(json.loads(part) for part in re.findall(_STRING, source))


def _scanned(web_dir: Path):
    return [p for p in sorted(web_dir.glob("*.js")) if p.name != I18N_MODULE]


def web_texts(web_dir: Path = WEB) -> dict:
    """{key: English} of every t("key", "English") call in web/*.js; one key has one English text."""
    texts: Dict[str, str] = {}
    for path in _scanned(web_dir):
        for key, english in _CALL.findall(path.read_text(encoding="utf-8")):
            english = _literal(english)
            if texts.setdefault(key, english) != english:
                raise ValueError(f"{path.name}: t('{key}') has two English texts: {texts[key]!r} and {english!r}")
    return texts


def untranslatable_calls(web_dir: Path = WEB) -> list:
    """t( calls this script cannot read (their text would silently stay English): 'file: call' for each."""
    bad = []
    for path in _scanned(web_dir):
        source = path.read_text(encoding="utf-8")
        for m in re.finditer(r'(?<![\w.$])t\(', source):
            if not _CALL.match(source, m.start()):
                bad.append(f"{path.name}: {source[m.start():m.start() + 60]!r}")
    return bad


def web_commands(web_dir: Path = WEB) -> dict:
    consts = {}
    for path in sorted(web_dir.glob("*.js")):
        consts.update({name: json.loads(value) for name, value in _CONST.findall(path.read_text(encoding="utf-8"))})
    return consts


def nest(flat: Dict[str, str]) -> dict:
    out: dict = {}
    for key, value in sorted(flat.items()):
        *parents, last = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return out


def english(infos: Dict[str, dict], web_dir: Path = WEB) -> Dict[str, dict]:
    """The content of every locales/en/ file."""
    main = {NAMESPACE: nest(web_texts(web_dir))}
    consts = web_commands(web_dir)
    commands = {}
    if "COMMAND_ID" in consts:
        main["menuLabels"] = {consts["MENU_LABEL"]: consts["MENU_LABEL"]}
        commands = {i18n_key(consts["COMMAND_ID"]): {"label": consts["COMMAND_LABEL"]}}
    return {"main.json": main, "nodeDefs.json": node_defs(infos), "commands.json": commands}


# ---------------------------------------------------------------------------------------------- comparing

def key_paths(obj, prefix: str = "") -> Set[str]:
    """Every leaf of a nested dict as 'a.b.c' (the leaves are the texts)."""
    if not isinstance(obj, dict):
        return {prefix}
    paths: Set[str] = set()
    for key, value in obj.items():
        paths |= key_paths(value, f"{prefix}.{key}" if prefix else str(key))
    return paths


def leaf(obj: dict, path: str):
    for part in path.split("."):
        obj = obj[part]
    return obj


def read_locale(lang: str, root: Path = LOCALES) -> Dict[str, dict]:
    return {name: json.loads((root / lang / name).read_text(encoding="utf-8")) if (root / lang / name).exists()
            else {} for name in FILES}


def languages(root: Path = LOCALES) -> list:
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def write_locale(lang: str, files: Dict[str, dict], root: Path = LOCALES) -> None:
    (root / lang).mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / lang / name).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------- with ComfyUI

def live_infos() -> Dict[str, dict]:
    """/object_info entries of the pack's nodes, from a ComfyUI booted in-process with the pack loaded."""
    from instantid_testkit import comfy_support as cs
    if cs.comfy_path() is None:
        sys.exit("set COMFYUI_PATH to a ComfyUI checkout")
    cs.bootstrap_comfy(argv=("--cpu",))
    assert cs.load_custom_node(str(ROOT)), "ComfyUI failed to import the pack"
    import nodes
    return {name: object_info(name, cls) for name, cls in nodes.NODE_CLASS_MAPPINGS.items()
            if name.startswith(ID_PREFIX)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when locales/en is out of date")
    args = parser.parse_args()
    want = english(live_infos())
    if args.check:
        stale = [name for name, data in want.items() if read_locale("en")[name] != data]
        for name in stale:
            print(f"locales/en/{name} is out of date: run scripts/build_locales.py")
        return 1 if stale else 0
    write_locale("en", want)
    print("wrote", ", ".join(f"locales/en/{name}" for name in want))
    return 0


if __name__ == "__main__":
    import _bootstrap  # noqa: F401  (the pack and the test kit; the tests load this file with their own)
    sys.exit(main())
