from pathlib import Path

from runner.comfy_location import find_comfyui


def fake_comfy(root: Path) -> Path:
    (root / "comfy").mkdir(parents=True)
    (root / "main.py").write_text("")
    (root / "folder_paths.py").write_text("")
    return root


def test_found_from_custom_nodes_install(tmp_path, monkeypatch):
    monkeypatch.delenv("COMFYUI_PATH", raising=False)
    comfy = fake_comfy(tmp_path / "ComfyUI")
    pack = comfy / "custom_nodes" / "comfyui-instantid"
    (pack / "tests").mkdir(parents=True)
    assert find_comfyui(pack / "tests" / "x.py") == comfy


def symlinked_install(tmp_path):
    """A ComfyUI whose custom_nodes/pack is a symlink to a checkout elsewhere; returns (comfy, checkout)."""
    comfy = fake_comfy(tmp_path / "ComfyUI")
    real = tmp_path / "src" / "pack"
    real.mkdir(parents=True)
    (comfy / "custom_nodes").mkdir()
    (comfy / "custom_nodes" / "pack").symlink_to(real)
    return comfy, real


def test_found_through_a_symlinked_install(tmp_path, monkeypatch):
    monkeypatch.delenv("COMFYUI_PATH", raising=False)
    comfy, _ = symlinked_install(tmp_path)
    assert find_comfyui(comfy / "custom_nodes" / "pack" / "__main__.py") == comfy


def test_env_and_explicit_take_precedence(tmp_path, monkeypatch):
    a, b = fake_comfy(tmp_path / "a"), fake_comfy(tmp_path / "b")
    monkeypatch.setenv("COMFYUI_PATH", str(a))
    assert find_comfyui(tmp_path) == a
    assert find_comfyui(tmp_path, explicit=str(b)) == b
    monkeypatch.setenv("COMFYUI_PATH", str(tmp_path / "nothing"))
    assert find_comfyui(tmp_path) is None  # a wrong COMFYUI_PATH is not silently replaced


def test_none_outside_comfyui(tmp_path, monkeypatch):
    monkeypatch.delenv("COMFYUI_PATH", raising=False)
    assert find_comfyui(tmp_path / "x.py") is None


def test_found_from_logical_cwd_when_the_path_was_resolved(tmp_path, monkeypatch):
    """pytest reports resolved paths; the shell's $PWD still shows the custom_nodes symlink."""
    monkeypatch.delenv("COMFYUI_PATH", raising=False)
    comfy, real = symlinked_install(tmp_path)
    monkeypatch.setenv("PWD", str(comfy / "custom_nodes" / "pack"))
    assert find_comfyui(real / "tests" / "x.py") == comfy
    monkeypatch.setenv("PWD", str(tmp_path))
    assert find_comfyui(real / "tests" / "x.py") is None
