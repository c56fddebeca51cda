"""Rows on a Ray cluster, the way Ray Data does batch inference: ``map_batches`` with a callable class, so Ray
keeps a pool of actors, each with one ComfyUI started in-process and its models loaded once (one actor per GPU,
or per CPU worker), and the rows stream back to this process, which writes them into the same results.jsonl.

Fault tolerance is Ray's: an actor that dies is restarted and its rows retried (Ray Data's actor-pool defaults,
max_restarts=-1 and max_task_retries=-1). A row's own failure (no face…) is a result, not a crash, so only a
dead process is retried. Photos travel with the rows (bytes), so nodes need no shared
folder; every node needs ComfyUI and this pack (at --comfyui / $COMFYUI_PATH / the ComfyUI the pack is in).
`ray` is imported only here, only with --ray."""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

from .inputs import staged_bytes
from .manifest import Job
from .prompts import Outcome

PACK = Path(__file__).resolve().parents[2]


class ComfyActor:
    """The callable class Ray Data keeps one instance of per actor: boots ComfyUI once, then runs rows."""

    def __init__(self, comfy_root: Optional[str], comfy_args: List[str], workflow: dict, workflow_name: str,
                 options: dict, threads: Optional[int] = None):
        from ..boot import boot_comfy, loaded_pack
        from ..comfy_location import find_comfyui
        root = find_comfyui(PACK, comfy_root)
        if root is None:
            raise RuntimeError(f"ComfyUI not found on this Ray node ({os.uname().nodename}): set COMFYUI_PATH there")
        if threads:  # Ray gives a 1-CPU actor one thread; the driver's count keeps CPU results identical
            import torch
            torch.set_num_threads(threads)
        boot_comfy(root, comfy_args, custom_nodes=True)
        loaded_pack(PACK)
        from .local import ComfyWorker
        self.worker = ComfyWorker(workflow, workflow_name, options, say=lambda _l: None,
                                  name=f"ray:{os.uname().nodename}:{os.getpid()}")

    def __call__(self, batch: dict) -> dict:
        import json

        import numpy as np
        out = {"job": [], "images": [], "error": [], "seconds": [], "score": [], "worker": []}
        for job_json, names, blobs in zip(batch["job"], batch["file_names"], batch["file_bytes"]):
            job = Job.from_dict(json.loads(job_json))
            files = dict(zip(list(names), list(blobs)))
            outcome = self.worker.run(job, read=lambda path: files[path])
            out["job"].append(job_json)
            out["images"].append(list(outcome.images))
            out["error"].append(outcome.error or "")
            out["seconds"].append(outcome.seconds)
            out["score"].append(np.nan if outcome.score is None else outcome.score)
            out["worker"].append(outcome.worker)
        return {k: (_objects(v) if k in ("images", "job", "error", "worker") else np.array(v)) for k, v in out.items()}


def _objects(values: list):
    """A 1-D object column (np.array would turn a list of one-image lists into a 2-D array)."""
    import numpy as np
    column = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        column[i] = v
    return column


def _item(job: Job) -> dict:
    import json
    paths = [p for p, name in job.staged if name != p]
    return {"job": json.dumps(job.to_dict()), "file_names": paths,
            "file_bytes": [staged_bytes(p) for p in paths]}


def runtime_env(env_vars: Optional[dict] = None) -> dict:
    """The Ray runtime_env a cluster needs for this pack: its workers register the pack under the name ComfyUI
    gives it (runner/pack_import.py) before they unpickle ComfyActor, whose module has that name."""
    from ray import cloudpickle

    from .. import pack_import
    cloudpickle.register_pickle_by_value(pack_import)  # the pack cannot be imported on a worker before the hook
    return {"worker_process_setup_hook": pack_import.process_setup(PACK), "env_vars": dict(env_vars or {})}


class RayExecutor:
    name = "ray"

    def __init__(self, address: Optional[str], workflow: dict, workflow_name: str, options: dict,
                 comfy_root=None, comfy_args=(), actors: Optional[int] = None, gpus: Optional[float] = None,
                 cpus: float = 1.0, init_kwargs: Optional[dict] = None, threads: Optional[int] = None):
        self.address, self.workflow, self.workflow_name, self.options = address, workflow, workflow_name, options
        self.comfy_root = str(comfy_root) if comfy_root else None
        self.comfy_args, self.actors, self.gpus, self.cpus = list(comfy_args), actors, gpus, cpus
        self.init_kwargs = init_kwargs or {}
        self.threads = threads

    def run(self, jobs: List[Job], sink) -> None:
        import json
        import math

        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, runtime_env=runtime_env(), **self.init_kwargs)
        gpus = self.gpus if self.gpus is not None else (1.0 if ray.cluster_resources().get("GPU", 0) else 0.0)
        actors = self.actors or max(1, int(ray.cluster_resources().get("GPU", 0) // gpus) if gpus else 1)
        items = [_item(j) for j in jobs]
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        threads = self.threads
        if threads is None and not gpus:
            import torch
            threads = torch.get_num_threads()
        ds = ds.map_batches(ComfyActor, batch_size=1, concurrency=actors, num_gpus=gpus or None, num_cpus=self.cpus,
                            fn_constructor_kwargs=dict(comfy_root=self.comfy_root, comfy_args=self.comfy_args,
                                                       workflow=self.workflow, workflow_name=self.workflow_name,
                                                       options=self.options, threads=threads))
        by_output = {j.output: j for j in jobs}
        for row in ds.iter_rows():
            job = by_output[json.loads(row["job"])["output"]]
            score = row["score"]
            sink.done(job, Outcome(images=[bytes(b) for b in row["images"]], error=row["error"] or None,
                                   seconds=float(row["seconds"]),
                                   score=None if score is None or math.isnan(score) else float(score),
                                   worker=row["worker"]))
            if sink.stopping():
                break
