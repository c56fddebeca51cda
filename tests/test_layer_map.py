import pytest

from instantid_testkit.adapter_fixtures import SDXL_HIDDEN
from instantid_core.errors import LayerMismatchError
from instantid_core.compute.layer_map import CrossAttentionLayer as L, map_layers


def sdxl_layers():
    """SDXL's attn2 layers as ComfyUI keys them (DESIGN §2), deliberately shuffled."""
    layers = []
    for block, ids, depth, hidden in (("input", (4, 5), 2, 640), ("input", (7, 8), 10, 1280),
                                      ("output", (0, 1, 2), 10, 1280), ("output", (3, 4, 5), 2, 640),
                                      ("middle", (0,), 10, 1280)):
        layers += [L(block, i, t, hidden) for i in ids for t in range(depth)]
    return layers[::-1]


def test_sdxl_maps_to_odd_keys_in_adapter_order():
    hidden = {2 * i + 1: h for i, h in enumerate(SDXL_HIDDEN)}
    m = map_layers(sdxl_layers(), hidden)
    assert len(m) == 70
    assert m[("input", 4, 0)] == 1
    assert m[("input", 8, 9)] == 47
    assert m[("output", 0, 0)] == 49
    assert m[("output", 5, 1)] == 119
    assert [m[("middle", 0, i)] for i in range(10)] == list(range(121, 140, 2))  # the mid block is not skipped


def test_layer_count_mismatch_names_the_fix():
    with pytest.raises(LayerMismatchError, match="has 16 cross-attention layers .* 70.*SDXL-family"):
        map_layers([L("input", 1, 0, 320)] * 16, {2 * i + 1: h for i, h in enumerate(SDXL_HIDDEN)})


def test_hidden_mismatch_names_first_bad_layer():
    layers = sdxl_layers()
    layers = [L(l.block_name, l.block_id, l.transformer_index, 768 if l.key == ("output", 0, 3) else l.hidden_size)
              for l in layers]
    with pytest.raises(LayerMismatchError, match=r"\('output', 0, 3\).*768.*adapter layer 55 expects 1280"):
        map_layers(layers, {2 * i + 1: h for i, h in enumerate(SDXL_HIDDEN)})


def test_unknown_block_name():
    with pytest.raises(LayerMismatchError, match="unknown block"):
        map_layers([L("down", 0, 0, 8)], {1: 8})
