"""A workflow saved on Windows names `sub\\file`, Linux lists `sub/file` (and the reverse): the same file."""
from instantid_core.workflow_formats.listed_names import listed_spelling

OPTIONS = ["sd_xl_base_1.0.safetensors", "instantid\\diffusion_pytorch_model.safetensors", "depth/sdxl.safetensors"]


def test_a_listed_value_is_kept_as_it_is():
    assert listed_spelling("sd_xl_base_1.0.safetensors", OPTIONS) == "sd_xl_base_1.0.safetensors"


def test_the_other_separator_finds_the_listed_spelling_both_ways():
    assert listed_spelling("instantid/diffusion_pytorch_model.safetensors", OPTIONS) == \
        "instantid\\diffusion_pytorch_model.safetensors"
    assert listed_spelling("depth\\sdxl.safetensors", OPTIONS) == "depth/sdxl.safetensors"


def test_an_absent_or_ambiguous_name_is_not_guessed():
    assert listed_spelling("canny/sdxl.safetensors", OPTIONS) is None
    assert listed_spelling("Depth/sdxl.safetensors", OPTIONS) is None  # case matters on Linux and in the list
    assert listed_spelling("a/b/c.safetensors", ["a\\b\\c.safetensors", "a/b\\c.safetensors"]) is None
    assert listed_spelling("x.safetensors", [None, 3]) is None
