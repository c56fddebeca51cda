"""Downloads started from the UI (instantid_core.files.download_job, nodes/download_route.py): the downloader in a
background thread, progress read from disk, cancel keeps the partial and the next start resumes it; only catalog
groups are accepted."""
import re

import pytest

from instantid_testkit.hub_server import HubServer
from instantid_core.files.download_job import CANCELLED, DONE, FAILED_STATE, DownloadJob, bytes_on_disk, file_states
from instantid_core.files.downloader import DownloadCancelled, download, folders_from_models_dir, target_path
from instantid_core.files.model_catalog import ADAPTER, ANTELOPEV2
from instantid_testkit.tiny_catalog import Tiny, chunk_size


def job(tiny, tmp_path, groups, **kw):
    return DownloadJob(groups, folders_from_models_dir(tmp_path / "models"), endpoint=tiny.hub.url,
                       catalog=tiny.catalog, cache_dir=str(tmp_path / "hf-cache"), **kw)


def test_a_job_downloads_the_groups_and_ends_with_the_closing_report(tmp_path):
    with HubServer() as hub:
        tiny = Tiny(hub)
        j = job(tiny, tmp_path, [ADAPTER, ANTELOPEV2], finish=lambda: "doctor says ok").start()
        assert j.wait(60)
    snap = j.snapshot()
    assert snap["state"] == DONE and snap["report"] == "doctor says ok" and snap["message"] == ""
    assert [f["name"] for f in snap["files"]] == ["ip-adapter.bin", "scrfd_10g_bnkps.onnx", "glintr100.onnx"]
    assert all(f["installed"] and f["bytes"] == f["size"] and f["status"] == "downloaded" for f in snap["files"])
    assert (tmp_path / "models" / "instantid" / "ip-adapter.bin").read_bytes() == tiny.data["adapter"]
    assert not (tmp_path / "models" / "controlnet").exists()  # a group not asked for is not touched


def test_cancel_keeps_the_partial_and_the_next_download_resumes_it(tmp_path):
    chunk = chunk_size()
    folders = folders_from_models_dir(tmp_path / "models")
    with HubServer() as hub:
        tiny = Tiny(hub, big=3 * chunk + 55)
        adapter = tiny.catalog[0]
        writes = []

        def stop_after_first_chunk():  # asked before the file and before each write
            writes.append(1)
            return len(writes) > 2

        with pytest.raises(DownloadCancelled) as stopped:
            download([ADAPTER], folders, endpoint=hub.url, catalog=tiny.catalog, progress=False, log=lambda _: None,
                     cache_dir=str(tmp_path / "c"), should_stop=stop_after_first_chunk)
        assert "resumes" in str(stopped.value)
        target = target_path(adapter, folders)
        assert not target.exists()
        assert bytes_on_disk(adapter, target) == chunk  # exactly what was written before the stop
        row, = file_states([adapter], folders)
        assert (row["installed"], row["bytes"], row["size"]) == (False, chunk, adapter.size)

        j = job(tiny, tmp_path, [ADAPTER]).start()
        assert j.wait(60) and j.snapshot()["state"] == DONE
        gets = hub.gets("ip-adapter.bin")
    assert target.read_bytes() == tiny.data["adapter"]
    assert re.fullmatch(r"bytes=(\d+)-", gets[-1].header("Range")).group(1) == str(chunk)  # resumed, not restarted


def test_a_cancelled_job_says_so_and_downloads_nothing_more(tmp_path):
    with HubServer() as hub:
        tiny = Tiny(hub)
        j = job(tiny, tmp_path, [ADAPTER], finish=lambda: "report")
        j.cancel()  # before the first file: nothing is fetched
        j.start()
        assert j.wait(30)
        assert hub.gets() == []
    snap = j.snapshot()
    assert snap["state"] == CANCELLED and "kept" in snap["message"] and snap["report"] == "report"


def test_an_unreachable_hub_fails_with_the_manual_urls(tmp_path):
    with HubServer() as hub:
        tiny = Tiny(hub)
        f = tiny.catalog[0]
        hub.fail_next(f.repo_id, f.path_in_repo, status=503, times=50)
        j = job(tiny, tmp_path, [ADAPTER]).start()
        assert j.wait(60)
        snap = j.snapshot()
    assert snap["state"] == FAILED_STATE
    assert "Download these by hand" in snap["message"] and f.url in snap["message"]
    assert str(tmp_path / "models" / "instantid") in snap["message"]


def test_only_catalog_groups_are_accepted(tmp_path):
    with pytest.raises(ValueError, match="unknown model group"):
        DownloadJob(["adapter", "../../etc"], folders_from_models_dir(tmp_path))
