import pytest

from runner.workflow_format import WorkflowFormatError, ui_to_api, widget_value_map

DEFS = {
    "Loader": {"required": {"ckpt_name": (["a.safetensors", "b.safetensors"],)}},
    "Sampler": {"required": {"model": ("MODEL",), "seed": ("INT", {"default": 0}), "steps": ("INT", {}),
                             "cfg": ("FLOAT", {})}, "optional": {"mask": ("MASK",), "note": ("STRING", {})}},
    "LoadImage": {"required": {"image": (["x.png"], {"image_upload": True})}},
    "Forced": {"required": {"value": ("INT", {"forceInput": True}), "label": ("STRING", {})}},
}


def node(id, type, inputs=(), widgets=(), mode=0, outputs=()):
    return {"id": id, "type": type, "mode": mode, "inputs": list(inputs), "outputs": list(outputs),
            "widgets_values": list(widgets)}


def test_widget_values_skip_frontend_only_values():
    assert widget_value_map(DEFS["Sampler"], [5, "randomize", 20, 7.5, "hi"]) == \
        {"seed": 5, "steps": 20, "cfg": 7.5, "note": "hi"}
    assert widget_value_map(DEFS["LoadImage"], ["x.png", "image"]) == {"image": "x.png"}
    assert widget_value_map(DEFS["Forced"], ["lbl"]) == {"label": "lbl"}
    assert widget_value_map(DEFS["Loader"], {"ckpt_name": "b.safetensors"}) == {"ckpt_name": "b.safetensors"}


def test_links_reroutes_bypass_mute_notes_and_primitives():
    wf = {"nodes": [
        node(1, "Loader", widgets=["a.safetensors"]),
        node(2, "Reroute", inputs=[{"name": "", "type": "MODEL", "link": 1}]),
        node(3, "Sampler", inputs=[{"name": "model", "type": "MODEL", "link": 2}], widgets=[1, "fixed", 4, 2.0, ""]),
        node(4, "Sampler", inputs=[{"name": "model", "type": "MODEL", "link": 3},
                                   {"name": "seed", "type": "INT", "link": 4, "widget": {"name": "seed"}}],
             widgets=[9, "fixed", 8, 1.0, "x"]),
        node(5, "PrimitiveNode", widgets=[1234, "fixed"]),
        node(6, "Note", widgets=["needs model a"]),
        node(7, "Sampler", inputs=[{"name": "model", "type": "MODEL", "link": 5}], widgets=[0, "fixed", 1, 1.0, ""],
             mode=2),
    ], "links": [[1, 1, 0, 2, 0, "MODEL"], [2, 2, 0, 3, 0, "MODEL"], [3, 3, 0, 4, 0, "MODEL"],
                 [4, 5, 0, 4, 1, "INT"], [5, 1, 0, 7, 0, "MODEL"]]}
    wf["nodes"][2]["mode"] = 4  # node 3 bypassed: node 4's model comes straight from the loader
    api = ui_to_api(wf, DEFS)
    assert set(api) == {"1", "4"}
    assert api["4"]["inputs"] == {"model": ["1", 0], "seed": 1234, "steps": 8, "cfg": 1.0, "note": "x"}
    assert api["1"]["inputs"] == {"ckpt_name": "a.safetensors"}


def test_unknown_node_type_names_it():
    with pytest.raises(WorkflowFormatError, match="Mystery"):
        ui_to_api({"nodes": [node(1, "Mystery")], "links": []}, DEFS)
