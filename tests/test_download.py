"""The `download` command's machinery against a local hub (tests/instantid_testkit/hub_server.py): layout, skip, resume, checksum,
no network, tokens, the Hugging Face cache, folder_paths; and the real catalog's facts."""
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from instantid_testkit.hub_server import HubServer
from instantid_testkit.tiny_catalog import REV_A, REV_B, Tiny, blob, chunk_size, record  # noqa: F401
from instantid_testkit.comfy_env import HOW_TO_GET_COMFYUI
from instantid_core.files.model_catalog import (ADAPTER, ALL_GROUPS, ANTELOPEV2, CATALOG, FOLDER_KINDS, GROUPS,
                                                IDENTITYNET, SDXL, ModelFile, download_command, files_for,
                                                frontend_model_entries)
from runner.download import DOWNLOADED, FROM_CACHE, SKIPPED, DownloadError, download, folders_from_models_dir

ROOT = Path(__file__).resolve().parents[1]
@pytest.fixture
def hub():
    with HubServer() as server:
        yield server


def incomplete_files(root: Path):
    return sorted(p.name for p in root.rglob("*.incomplete"))


def test_downloads_land_in_comfyui_layout_and_verify(tmp_path):
    with HubServer(redirect=True) as hub:  # resolve -> 302 -> /cdn/<sha256>, as the hub does for LFS files
        tiny = Tiny(hub)
        folders = folders_from_models_dir(tmp_path / "models")
        report, lines = tiny.run(folders, tmp_path)
    models = tmp_path / "models"
    assert (models / "instantid" / "ip-adapter.bin").read_bytes() == tiny.data["adapter"]
    assert (models / "controlnet" / "instantid" / "diffusion_pytorch_model.safetensors").read_bytes() == \
        tiny.data["identitynet"]
    assert (models / "insightface" / "models" / "antelopev2" / "glintr100.onnx").read_bytes() == tiny.data["glintr"]
    assert [r.status for r in report.results] == [DOWNLOADED] * 4 and report.ok
    assert len(lines) == 4 and all("sha256 verified" in line for line in lines)
    assert incomplete_files(models) == []
    assert any(r.path.startswith("/cdn/") for r in hub.gets())


def test_second_run_skips_without_any_request(hub, tmp_path):
    tiny = Tiny(hub)
    folders = folders_from_models_dir(tmp_path / "models")
    tiny.run(folders, tmp_path)
    hub.requests.clear()
    report, lines = tiny.run(folders, tmp_path)
    assert [r.status for r in report.results] == [SKIPPED] * 4
    assert hub.requests == []  # not even a HEAD: the files were checked on disk (size + sha256)
    assert all(line.startswith("skipped") for line in lines)


def test_broken_connection_resumes_with_range_in_the_same_run(tmp_path):
    chunk = chunk_size()
    with HubServer() as hub:
        tiny = Tiny(hub, big=2 * chunk + 777)
        f = tiny.catalog[0]
        cut = chunk + 500
        hub.cut_next(f.repo_id, f.path_in_repo, after=cut)
        report, _ = tiny.run(folders_from_models_dir(tmp_path / "m"), tmp_path, groups=[ADAPTER])
        gets = hub.gets("ip-adapter.bin")
    assert report.results[0].status == DOWNLOADED
    assert (tmp_path / "m" / "instantid" / "ip-adapter.bin").read_bytes() == tiny.data["adapter"]
    assert len(gets) == 2 and gets[0].header("Range") is None
    start = int(re.fullmatch(r"bytes=(\d+)-", gets[1].header("Range")).group(1))
    assert 0 < start <= cut  # only the missing tail was asked for


def test_interrupted_run_leaves_a_partial_that_the_next_run_resumes(tmp_path):
    chunk = chunk_size()
    folders = folders_from_models_dir(tmp_path / "m")
    target = tmp_path / "m" / "instantid" / "ip-adapter.bin"
    with HubServer() as hub:
        tiny = Tiny(hub, big=2 * chunk + 321)
        f = tiny.catalog[0]
        hub.cut_next(f.repo_id, f.path_in_repo, after=chunk + 100)
        hub.fail_next(f.repo_id, f.path_in_repo, status=503, times=20)  # the hub then stays down
        with pytest.raises(DownloadError) as err:
            tiny.run(folders, tmp_path, groups=[ADAPTER])
        assert not target.exists()
        partials = list(target.parent.glob("ip-adapter.bin.*.incomplete"))
        assert len(partials) == 1
        kept = partials[0].stat().st_size
        assert 0 < kept < f.size
        assert "run the same download command again to resume" in str(err.value)
        assert f.url in str(err.value)

        hub.clear_faults()
        hub.requests.clear()
        report, _ = tiny.run(folders, tmp_path, groups=[ADAPTER])
        gets = hub.gets("ip-adapter.bin")
    assert report.results[0].status == DOWNLOADED
    assert [g.header("Range") for g in gets] == [f"bytes={kept}-"]
    assert target.read_bytes() == tiny.data["adapter"]
    assert incomplete_files(tmp_path / "m") == []


def test_wrong_bytes_fail_the_checksum_and_leave_nothing(hub, tmp_path):
    tiny = Tiny(hub)
    f = tiny.catalog[0]
    good = tiny.data["adapter"]
    hub.repos[f.repo_id].files[f.path_in_repo].served = bytes(b ^ 0xFF for b in good)  # same size, other bytes
    folders = folders_from_models_dir(tmp_path / "m")
    with pytest.raises(DownloadError) as err:
        tiny.run(folders, tmp_path)
    text = str(err.value)
    assert "sha256 mismatch" in text and f.sha256 in text
    assert f.url in text and str(tmp_path / "m" / "instantid") in text
    assert not (tmp_path / "m" / "instantid" / "ip-adapter.bin").exists()
    assert incomplete_files(tmp_path / "m") == []
    # one bad file does not stop the others
    assert (tmp_path / "m" / "insightface" / "models" / "antelopev2" / "glintr100.onnx").is_file()
    assert [r.status for r in err.value.report.results] == ["failed", DOWNLOADED, DOWNLOADED, DOWNLOADED]


def test_hub_describing_another_file_is_refused_before_downloading(hub, tmp_path):
    tiny = Tiny(hub)
    f = tiny.catalog[0]
    hub.repos[f.repo_id].files[f.path_in_repo].content = blob(f.size, 99)  # the hub now reports another sha256
    with pytest.raises(DownloadError) as err:
        tiny.run(folders_from_models_dir(tmp_path / "m"), tmp_path, groups=[ADAPTER])
    assert "is a different file" in str(err.value)
    assert hub.gets() == []


def test_no_network_lists_every_manual_url_and_folder(tmp_path):
    hub = HubServer().start()
    tiny = Tiny(hub)
    url = hub.url
    hub.stop()  # the port is closed now: connection refused
    folders = folders_from_models_dir(tmp_path / "models")
    with pytest.raises(DownloadError) as err:
        tiny.run(folders, tmp_path, endpoint=url)
    text = str(err.value)
    assert "could not reach http://127.0.0.1" in text
    for f in tiny.catalog:
        assert f.url in text and f.url.startswith("https://huggingface.co/")
    assert str(tmp_path / "models" / "controlnet" / "instantid" / "diffusion_pytorch_model.safetensors") in text
    assert "HF_ENDPOINT" in text and " doctor --sha256" in text
    assert not (tmp_path / "models" / "instantid" / "ip-adapter.bin").exists()


def test_only_selects_groups(hub, tmp_path):
    tiny = Tiny(hub)
    report, _ = tiny.run(folders_from_models_dir(tmp_path / "m"), tmp_path, groups=[ANTELOPEV2])
    assert [r.file.group for r in report.results] == [ANTELOPEV2, ANTELOPEV2]
    assert not (tmp_path / "m" / "instantid").exists() and not (tmp_path / "m" / "controlnet").exists()
    assert all("/test/antelope/" in r.path for r in hub.requests)
    with pytest.raises(ValueError, match="choose from adapter, identitynet, antelopev2"):
        tiny.run(folders_from_models_dir(tmp_path / "m"), tmp_path, groups=["controlnet"])


def test_separate_folders_per_kind_are_respected(hub, tmp_path):
    """What an extra_model_paths.yaml gives: each kind in its own place, not under one models folder."""
    tiny = Tiny(hub)
    folders = {"instantid": tmp_path / "a" / "ii", "controlnet": tmp_path / "b" / "cn",
               "insightface": tmp_path / "c" / "face"}
    tiny.run(folders, tmp_path)
    assert (tmp_path / "a" / "ii" / "ip-adapter.bin").is_file()
    assert (tmp_path / "b" / "cn" / "instantid" / "diffusion_pytorch_model.safetensors").is_file()
    assert (tmp_path / "c" / "face" / "models" / "antelopev2" / "scrfd_10g_bnkps.onnx").is_file()
    with pytest.raises(ValueError, match="no target folder given for insightface"):
        download([ANTELOPEV2], {"instantid": tmp_path}, catalog=tiny.catalog)


def test_a_different_file_at_the_target_is_kept_aside_not_overwritten(hub, tmp_path):
    tiny = Tiny(hub)
    target = tmp_path / "m" / "instantid" / "ip-adapter.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"half a browser download")
    report, lines = tiny.run(folders_from_models_dir(tmp_path / "m"), tmp_path, groups=[ADAPTER])
    assert target.read_bytes() == tiny.data["adapter"]
    assert (target.parent / "ip-adapter.bin.bad-1").read_bytes() == b"half a browser download"
    assert "kept as ip-adapter.bin.bad-1" in lines[0]


def test_token_from_hf_token_is_sent_and_a_refusal_names_it(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)  # (a login stored on this machine is refused here as well)
    with HubServer(token="hf_secret") as hub:
        tiny = Tiny(hub)
        folders = folders_from_models_dir(tmp_path / "m")
        with pytest.raises(DownloadError) as err:
            tiny.run(folders, tmp_path, groups=[ADAPTER])
        assert "HTTP 401" in str(err.value) and "HF_TOKEN" in str(err.value)
        monkeypatch.setenv("HF_TOKEN", "hf_secret")
        report, _ = tiny.run(folders, tmp_path, groups=[ADAPTER])
        assert report.ok
        assert {r.header("Authorization") for r in hub.requests[-2:]} == {"Bearer hf_secret"}


def test_a_copy_in_the_huggingface_cache_is_used_without_network(tmp_path):
    hub = HubServer().start()
    tiny = Tiny(hub)
    url = hub.url
    hub.stop()  # any request would fail the download
    f = tiny.catalog[0]
    snapshot = tmp_path / "hf-cache" / "models--test--instantid" / "snapshots" / f.revision
    snapshot.mkdir(parents=True)
    (snapshot / f.path_in_repo).write_bytes(tiny.data["adapter"])
    report, lines = tiny.run(folders_from_models_dir(tmp_path / "m"), tmp_path, groups=[ADAPTER], endpoint=url)
    target = tmp_path / "m" / "instantid" / "ip-adapter.bin"
    assert report.results[0].status == FROM_CACHE and target.read_bytes() == tiny.data["adapter"]
    assert os.path.samefile(target, snapshot / f.path_in_repo)  # a hard link: no second copy on disk


def _run_child(code: str, env: dict) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, cwd=str(ROOT), timeout=300)


CHILD = """
    import json, sys
    sys.path[:0] = [{tests!r}]
    import instantid_testkit  # the pack as ComfyUI names it; instantid_core and runner name its modules
    from instantid_core.files.model_catalog import ModelFile
    from runner.download import DownloadError, download, folders_from_models_dir
    rec = ModelFile(**json.loads({rec!r}))
    try:
        report = download(None, folders_from_models_dir({models!r}), catalog=(rec,), progress=False,
                          cache_dir={cache!r})
        print("OK", report.results[0].status)
    except DownloadError as exc:
        print("ERROR", exc)
"""


def _child_code(f: ModelFile, tmp_path: Path) -> str:
    rec = json.dumps({k: getattr(f, k) for k in ModelFile.__dataclass_fields__})
    return CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"), rec=rec, models=str(tmp_path / "m"),
                        cache=str(tmp_path / "hf-cache"))


def test_two_runs_at_once_give_one_verified_file(tmp_path):
    """Two `download` processes for the same target: the second waits for the first (lock per target) and then
    finds the verified file; without the lock both appended to one partial (a double-size file, 'verified')."""
    data = blob(12 * 2**20, 9)
    with HubServer(pace=0.01) as hub:  # ~2 s per download, so the two runs overlap
        f = record(ADAPTER, "test/instantid", "ip-adapter.bin", REV_A, "instantid", "ip-adapter.bin", data)
        hub.add(f.repo_id, f.path_in_repo, data, commit=f.revision)
        code = textwrap.dedent(_child_code(f, tmp_path))
        env = {**os.environ, "HF_ENDPOINT": hub.url}
        runs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=env, cwd=str(ROOT)) for _ in range(2)]
        outs = [run.communicate(timeout=300) for run in runs]
        gets = hub.gets("ip-adapter.bin")
    target = tmp_path / "m" / "instantid" / "ip-adapter.bin"
    assert sorted((out.strip().splitlines() or [err])[-1] for out, err in outs) == ["OK downloaded", "OK skipped"], outs
    assert any("waiting: another download of ip-adapter.bin" in out for out, _ in outs), outs
    assert target.stat().st_size == len(data) and target.read_bytes() == data
    assert len(gets) == 1  # the second run sent no body request
    assert incomplete_files(tmp_path / "m") == [] and not list(target.parent.glob("*.lock"))


def test_a_partial_written_to_after_verification_is_not_renamed(hub, tmp_path, monkeypatch):
    import instantid_core.files.downloader as dl
    tiny = Tiny(hub)
    verify = dl._verify

    def verify_then_append(partial, size, sha256):
        verified = verify(partial, size, sha256)
        with open(partial, "ab") as out:  # another writer slips in between verification and rename
            out.write(b"x")
        return verified

    monkeypatch.setattr(dl, "_verify", verify_then_append)
    with pytest.raises(DownloadError) as err:
        tiny.run(folders_from_models_dir(tmp_path / "m"), tmp_path, groups=[ADAPTER])
    assert "changed after it was verified" in str(err.value)
    assert not (tmp_path / "m" / "instantid" / "ip-adapter.bin").exists()
    assert incomplete_files(tmp_path / "m") == []


def test_hf_endpoint_environment_variable_is_honoured(hub, tmp_path):
    """HF_ENDPOINT is read when huggingface_hub is imported, so this runs in a fresh interpreter."""
    tiny = Tiny(hub)
    done = _run_child(_child_code(tiny.catalog[0], tmp_path), {"HF_ENDPOINT": hub.url})
    assert "OK downloaded" in done.stdout, done.stdout + done.stderr
    assert (tmp_path / "m" / "instantid" / "ip-adapter.bin").read_bytes() == tiny.data["adapter"]
    assert hub.gets("ip-adapter.bin")


def test_offline_mode_says_so(hub, tmp_path):
    tiny = Tiny(hub)
    done = _run_child(_child_code(tiny.catalog[0], tmp_path), {"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "1"})
    assert "ERROR" in done.stdout and "HF_HUB_OFFLINE" in done.stdout, done.stdout + done.stderr
    assert tiny.catalog[0].url in done.stdout
    assert hub.requests == []


def test_folders_from_folder_paths_follows_extra_model_paths(tmp_path):
    from runner.comfy_location import find_comfyui

    comfy = find_comfyui(ROOT)
    if comfy is None:
        pytest.skip("ComfyUI not found: folder_paths + extra_model_paths.yaml not checked. To check them: "
                    + HOW_TO_GET_COMFYUI)
    yaml = tmp_path / "extra_model_paths.yaml"
    yaml.write_text(textwrap.dedent(f"""
        mine:
            base_path: {tmp_path / 'shared'}
            is_default: true
            controlnet: cn
            instantid: ii
            insightface: face
    """))
    code = f"""
        import json, sys
        sys.path[:0] = [{str(comfy)!r}, {str(ROOT / "tests")!r}]
        import instantid_testkit  # the pack as ComfyUI names it; runner names its runner
        import folder_paths, utils.extra_config
        from runner.download import folders_from_folder_paths, search_folders_from_folder_paths
        as_text = lambda folders: {{k: str(v) for k, v in folders.items()}}
        before = as_text(folders_from_folder_paths())
        utils.extra_config.load_extra_path_config({str(yaml)!r})
        search = {{k: [str(p) for p in v] for k, v in search_folders_from_folder_paths().items()}}
        print(json.dumps([before, as_text(folders_from_folder_paths()), folder_paths.models_dir, search]))
    """
    done = _run_child(code, {})
    assert done.returncode == 0, done.stderr[-3000:]
    before, after, models_dir, search = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == {k: os.path.join(models_dir, k) for k in FOLDER_KINDS}
    assert after == {"controlnet": str(tmp_path / "shared" / "cn"), "instantid": str(tmp_path / "shared" / "ii"),
                     "insightface": str(tmp_path / "shared" / "face"),
                     "checkpoints": os.path.join(models_dir, "checkpoints")}  # not in the yaml: ComfyUI's own
    # an installed copy is looked for in every configured folder of the kind, the default one included
    assert search["controlnet"][0] == after["controlnet"] and before["controlnet"] in search["controlnet"]


# --- the real catalog ---------------------------------------------------------------------------------------------

# Published antelopev2 files (DESIGN.md section 2), written out here so a slip in the catalog shows.
DESIGN_ANTELOPE = {
    "1k3d68.onnx": (143607619, "df5c06b8a0c12e422b2ed8947b8869faa4105387f199c477af038aa01f9a45cc"),
    "2d106det.onnx": (5030888, "f001b856447c413801ef5c42091ed0cd516fcd21f2d6b79635b1e733a7109dbf"),
    "genderage.onnx": (1322532, "4fde69b1c810857b88c64a335084f1c3fe8f01246c9a191b48c7bb756d6652fb"),
    "glintr100.onnx": (260665334, "4ab1d6435d639628a6f3e5008dd4f929edf4c4124b1a7169e1048f9fef534cdf"),
    "scrfd_10g_bnkps.onnx": (16923827, "5838f7fe053675b1c7a08b633df49e7af5495cee0493c7dcf6697200b85b5b91"),
}


def test_real_catalog_records_are_complete_and_pinned():
    assert {f.group for f in CATALOG} == set(ALL_GROUPS)
    assert [f.group for f in files_for()] == [f.group for f in CATALOG if f.group in GROUPS]  # the checkpoint is opt-in
    for f in CATALOG:
        assert f.url.startswith(f"https://huggingface.co/{f.repo_id}/resolve/{f.revision}/"), f.url
        assert re.fullmatch(r"[0-9a-f]{40}", f.revision), "pin a commit: a moved branch must not change the file"
        assert f.folder_kind in FOLDER_KINDS and f.licence
        assert f.sha256 is not None and re.fullmatch(r"[0-9a-f]{64}", f.sha256)
        assert f.size > 1_000_000
    by_group = {g: files_for([g]) for g in GROUPS}
    (adapter,), (identitynet,) = by_group[ADAPTER], by_group[IDENTITYNET]
    assert (adapter.folder_kind, adapter.target) == ("instantid", "ip-adapter.bin")
    assert (identitynet.folder_kind, identitynet.target) == ("controlnet",
                                                             "instantid/diffusion_pytorch_model.safetensors")
    (sdxl,) = files_for([SDXL])
    assert (sdxl.folder_kind, sdxl.target, sdxl.size) == ("checkpoints", "sd_xl_base_1.0.safetensors", 6938078334)
    assert "RAIL" in sdxl.licence
    antelope = {f.name: (f.size, f.sha256) for f in by_group[ANTELOPEV2]}
    assert antelope == DESIGN_ANTELOPE
    assert all(f.target == f"models/antelopev2/{f.name}" and f.folder_kind == "insightface"
               for f in by_group[ANTELOPEV2])


def test_folder_kinds_are_known_to_comfyui_or_registered_by_the_pack():
    registered = (ROOT / "nodes" / "folders.py").read_text()
    assert 'INSTANTID = "instantid"' in registered and 'INSIGHTFACE = "insightface"' in registered
    from runner.comfy_location import find_comfyui
    comfy = find_comfyui(ROOT)
    if comfy is None:
        pytest.skip("ComfyUI not found: its own folder names not checked. To check them: " + HOW_TO_GET_COMFYUI)
    source = (Path(comfy) / "folder_paths.py").read_text()
    assert 'folder_names_and_paths["controlnet"]' in source and 'folder_names_and_paths["checkpoints"]' in source


def test_frontend_entries_and_download_command():
    entries = frontend_model_entries()
    assert [e["directory"] for e in entries] == ["instantid", "controlnet"]
    assert entries[1]["name"] == "instantid/diffusion_pytorch_model.safetensors"
    assert all(e["url"].startswith("https://huggingface.co/") for e in entries)
    assert download_command([ADAPTER], pack_folder="custom_nodes/x") == "python custom_nodes/x download --only adapter"
    assert re.fullmatch(r"python \S+ download", download_command())
    from instantid_core.files.model_catalog import pack_folder_for_command
    assert pack_folder_for_command(cwd=str(ROOT.parent.parent)) == f"{ROOT.parent.name}/{ROOT.name}"  # custom_nodes/<pack>


def _cli_download_offline(tmp_path, group):
    """`python <pack> download --only <group> --to <tmp>/m` with the hub address pointing at a port nobody serves."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{port}", "COMFYUI_PATH": ""}
    return subprocess.run([sys.executable, str(ROOT), "download", "--only", group, "--to", str(tmp_path / "m")],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)


def test_cli_download_offline_exits_2_and_prints_the_manual_urls(tmp_path):
    """`python <pack> download --only adapter --to <models>` with the hub unreachable: the real catalog's URL and
    the target folder are printed, nothing is left at the target."""
    done = _cli_download_offline(tmp_path, "adapter")
    assert done.returncode == 2, done.stdout + done.stderr
    adapter = files_for([ADAPTER])[0]
    assert adapter.url in done.stderr and str(tmp_path / "m" / "instantid") in done.stderr
    assert not (tmp_path / "m" / "instantid" / "ip-adapter.bin").exists()


def test_an_identitynet_installed_under_another_name_is_not_downloaded_again(hub, tmp_path):
    """A user who saved IdentityNet as controlnet/instantid_controlnet.safetensors (the name most guides use), or
    keeps it in a second models folder, must not get a second copy; the line names the file to pick instead."""
    tiny = Tiny(hub)
    folders = folders_from_models_dir(tmp_path / "m")
    renamed = folders["controlnet"] / "instantid_controlnet.safetensors"
    renamed.parent.mkdir(parents=True)
    renamed.write_bytes(tiny.data["identitynet"])
    other_models = tmp_path / "shared-drive" / "controlnet" / "sdxl"
    other_models.mkdir(parents=True)
    (other_models / "ip_adapter_instantid.bin").write_bytes(tiny.data["adapter"])
    search = {"controlnet": [folders["controlnet"]], "instantid": [folders["instantid"], other_models.parent]}
    report, lines = tiny.run(folders, tmp_path, groups=[ADAPTER, IDENTITYNET], search=search)
    assert [(r.status, r.path) for r in report.results] == [
        (SKIPPED, other_models / "ip_adapter_instantid.bin"), (SKIPPED, renamed)]
    assert hub.requests == []
    assert not (folders["controlnet"] / "instantid").exists() and not folders["instantid"].exists()
    assert "pick it in loaders that name 'instantid/diffusion_pytorch_model.safetensors'" in lines[1]


def test_a_same_sized_other_file_or_an_antelope_copy_elsewhere_does_not_count(hub, tmp_path):
    tiny = Tiny(hub)
    folders = folders_from_models_dir(tmp_path / "m")
    impostor = folders["controlnet"] / "canny.safetensors"  # same size, other bytes: another ControlNet
    impostor.parent.mkdir(parents=True)
    impostor.write_bytes(bytes(len(tiny.data["identitynet"])))
    loose = folders["insightface"] / "glintr100.onnx"  # insightface only loads models/antelopev2/<name>
    loose.parent.mkdir(parents=True)
    loose.write_bytes(tiny.data["glintr"])
    report, _ = tiny.run(folders, tmp_path, groups=[IDENTITYNET, ANTELOPEV2])
    assert [r.status for r in report.results] == [DOWNLOADED] * 3
    assert impostor.read_bytes() == bytes(len(tiny.data["identitynet"])) and loose.read_bytes() == tiny.data["glintr"]


def test_cli_offers_the_sdxl_checkpoint_only_when_asked_and_shows_its_licence(tmp_path):
    done = _cli_download_offline(tmp_path, "sdxl")
    assert done.returncode == 2, done.stdout + done.stderr
    (sdxl,) = files_for([SDXL])
    assert "CreativeML Open RAIL++-M" in done.stdout and sdxl.url in done.stderr
    assert str(tmp_path / "m" / "checkpoints") in done.stderr
    assert SDXL not in {f.group for f in files_for()}  # a plain `download` never fetches 6.9 GB unasked


def _unwritable_lock(monkeypatch):
    """A target folder the user cannot write (the tests may run as root, for whom chmod changes nothing): the lock
    file's creation fails as it does there."""
    import types
    from instantid_core.files import target_lock

    def refuse(path, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise PermissionError(13, "Permission denied", str(path))
        return os.open(path, *args, **kwargs)
    monkeypatch.setattr(target_lock, "os", types.SimpleNamespace(**{**vars(os), "open": refuse}))


def test_an_unwritable_target_folder_is_the_manual_download_message(hub, tmp_path, monkeypatch):
    """issue 26, finding 7: the lock file's PermissionError was a raw traceback (exit 1)."""
    _unwritable_lock(monkeypatch)
    tiny = Tiny(hub)
    with pytest.raises(DownloadError) as err:
        tiny.run(folders_from_models_dir(tmp_path / "models"), tmp_path, groups=["adapter"])
    text = str(err.value)
    assert f"cannot write in {tmp_path / 'models' / 'instantid'} (Permission denied)" in text, text
    assert "Download these by hand" in text and tiny.catalog[0].url in text
    assert hub.requests == []  # nothing fetched for a file that could not be kept


def test_cli_download_into_an_unwritable_folder_exits_2(tmp_path, monkeypatch, capsys):
    from runner import cli
    _unwritable_lock(monkeypatch)
    code = cli.main(["download", "--only", "adapter", "--to", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write in" in err and "Traceback" not in err, err
    assert files_for([ADAPTER])[0].url in err
