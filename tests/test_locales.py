"""Tooltips and translations of every node of the pack, and of the web extension's texts.

* every input and output of every registered node has a tooltip (ComfyUI's /object_info fields: the input
  spec's "tooltip", the class's OUTPUT_TOOLTIPS), so nodes added later are held to it too;
* locales/en is exactly what scripts/build_locales.py makes from the live node definitions and web/*.js;
* every other language has exactly the English keys: a node, input, output or text added without its
  translation fails, and so does a translation of something that no longer exists; each failure names the key.

The ComfyUI parts skip without ComfyUI (COMFYUI_PATH); the comparisons between languages always run."""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from instantid_testkit.comfy_env import comfy_env

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("build_locales", ROOT / "scripts" / "build_locales.py")
bl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bl)

LANGUAGES = [lang for lang in bl.languages() if lang != "en"]
ENGLISH = bl.read_locale("en")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.fixture(scope="module")
def infos(tmp_path_factory):
    """/object_info entries of every node the pack registers with ComfyUI."""
    env = comfy_env(tmp_path_factory.mktemp("comfy"))
    mappings = sys.modules[env.module].NODE_CLASS_MAPPINGS
    return {node_id: bl.object_info(node_id, cls) for node_id, cls in mappings.items()}


def test_every_input_and_output_of_every_node_has_a_tooltip(infos):
    assert len(infos) >= 11
    missing = []
    for node_id, info in infos.items():
        missing += [f"{node_id}: input '{name}'" for name, opts in bl.node_inputs(info) if not opts.get("tooltip")]
        tips = info.get("output_tooltips")
        if not isinstance(tips, (list, tuple)) or len(tips) != len(info["output"]):
            missing.append(f"{node_id}: OUTPUT_TOOLTIPS must be a tuple with one text per output "
                           f"({len(info['output'])}), got {tips!r}")
        else:
            missing += [f"{node_id}: output {i} '{name}'" for i, (name, tip) in
                        enumerate(zip(info["output_name"], tips)) if not (isinstance(tip, str) and tip.strip())]
    assert not missing, "no tooltip:\n" + "\n".join(missing)


def test_english_locale_is_generated_from_the_node_definitions(infos):
    want = bl.english(infos)
    problems = []
    for name, data in want.items():
        have = ENGLISH[name]
        new, gone = bl.key_paths(data) - bl.key_paths(have), bl.key_paths(have) - bl.key_paths(data)
        changed = [p for p in bl.key_paths(data) & bl.key_paths(have) if bl.leaf(data, p) != bl.leaf(have, p)]
        problems += [f"{name}: missing {p}" for p in sorted(new)] + [f"{name}: no longer exists {p}" for p in sorted(gone)]
        problems += [f"{name}: changed {p}" for p in sorted(changed)]
    assert not problems, ("locales/en is out of date; run `COMFYUI_PATH=... python scripts/build_locales.py`, then "
                          "translate the new keys in every other locales/<lang>/:\n" + "\n".join(problems))


def test_every_node_of_the_pack_is_in_the_english_locale(infos):
    assert set(ENGLISH["nodeDefs.json"]) == set(infos)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translation_has_exactly_the_english_keys(lang):
    theirs = bl.read_locale(lang)
    problems = []
    for name in bl.FILES:
        ours, other = bl.key_paths(ENGLISH[name]), bl.key_paths(theirs[name])
        problems += [f"locales/{lang}/{name}: missing {p}" for p in sorted(ours - other)]
        problems += [f"locales/{lang}/{name}: names something that no longer exists: {p}" for p in sorted(other - ours)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translated_texts_are_complete_and_keep_their_placeholders(lang):
    theirs = bl.read_locale(lang)
    problems = []
    for name in bl.FILES:
        for path in sorted(bl.key_paths(ENGLISH[name]) & bl.key_paths(theirs[name])):
            english, text = bl.leaf(ENGLISH[name], path), bl.leaf(theirs[name], path)
            if not isinstance(text, str) or not text.strip():
                problems.append(f"{name}: {path} is empty")
                continue
            if set(PLACEHOLDER.findall(english)) != set(PLACEHOLDER.findall(text)):
                problems.append(f"{name}: {path} must use exactly the placeholders of {english!r}: {text!r}")
            # vue-i18n's message syntax: '@' links, '|' plural forms, braces only around a placeholder
            if re.search(r"[@|{}]", PLACEHOLDER.sub("", text)):
                problems.append(f"{name}: {path} has a character vue-i18n reads as syntax: {text!r}")
            if len(english) > 12 and text == english and path.endswith(("tooltip", "description")):
                problems.append(f"{name}: {path} is still English")
    assert not problems, "\n".join(problems)


def test_the_languages_are_english_chinese_and_japanese():
    assert {"en", "zh", "ja"} <= set(bl.languages())


def test_every_web_text_goes_through_a_readable_t_call():
    """build_locales.py can only collect t("key", "English") calls; anything else would stay English."""
    assert not bl.untranslatable_calls(), bl.untranslatable_calls()
    texts = bl.web_texts()
    assert "migrate.convert" in texts and "faces.box" in texts
    assert bl.nest(texts) == ENGLISH["main.json"][bl.NAMESPACE]


def test_key_comparison_names_what_is_missing_and_what_is_extra():
    english = {"A": {"inputs": {"x": {"name": "x", "tooltip": "t"}}}}
    translated = {"A": {"inputs": {"y": {"name": "y", "tooltip": "t"}}}}
    assert bl.key_paths(english) - bl.key_paths(translated) == {"A.inputs.x.name", "A.inputs.x.tooltip"}
    assert bl.key_paths(translated) - bl.key_paths(english) == {"A.inputs.y.name", "A.inputs.y.tooltip"}
