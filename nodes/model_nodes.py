"""InstantID adapter loader and the Precision/Offload manager."""
from __future__ import annotations

import folder_paths
import comfy.model_management as mm

from ..instantid_core.errors import AdapterFormatError
from ..instantid_core.files.adapter_file import load_instantid_model
from ..instantid_core.compute.precision import HALF_TYPES, PrecisionMode, PrecisionPolicy
from .folders import INSTANTID
from .node_base import InstantIDNode
from .placement import adapter_patcher, precision_report
from .values import INSTANTID as INSTANTID_TYPE, InstantIDHandle


class InstantIDModelLoader(InstantIDNode):
    NODE_ID = "ModelLoader"
    DISPLAY_NAME = "InstantID Model Loader"
    DESCRIPTION = ("Loads the InstantID adapter (ip-adapter.bin) from models/instantid. The weights stay on the "
                   "offload device and are handed to ComfyUI's memory manager; they never squat in VRAM.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"instantid_file": (folder_paths.get_filename_list(INSTANTID), {
            "tooltip": "The InstantID adapter: ip-adapter.bin (or a .safetensors conversion) in "
                       "ComfyUI/models/instantid."})}}

    RETURN_TYPES = (INSTANTID_TYPE,)
    RETURN_NAMES = ("instantid",)
    OUTPUT_TOOLTIPS = ("The InstantID adapter (resampler + identity K/V weights), managed by ComfyUI's memory "
                       "manager.",)
    FUNCTION = "load"

    def load(self, instantid_file):
        path = folder_paths.get_full_path(INSTANTID, instantid_file)
        if path is None:
            raise AdapterFormatError(f"'{instantid_file}' is not in any models/instantid folder "
                                     f"({folder_paths.get_folder_paths(INSTANTID)}). Put ip-adapter.bin there and "
                                     f"press 'Refresh'.")
        model = load_instantid_model(path)
        offload = mm.unet_offload_device()
        if offload.type != "cpu":  # --gpu-only / --highvram: the offload device is the GPU itself
            model = model.to(offload)
        patcher = adapter_patcher(model, load_device=mm.get_torch_device(), offload_device=offload)
        return (InstantIDHandle(patcher=patcher, path=path),)


class InstantIDPrecisionOffload(InstantIDNode):
    NODE_ID = "PrecisionOffload"
    DISPLAY_NAME = "InstantID Precision / Offload"
    DESCRIPTION = ("Chooses where and in which dtype InstantID's embedding math runs, and reports it. 'auto' "
                   "keeps it in float32 on the CPU and uses half precision only on GPUs that support it.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "instantid": (INSTANTID_TYPE, {"tooltip": "From 'InstantID Model Loader'."}),
            "mode": ([m.value for m in PrecisionMode], {"default": "auto", "tooltip":
                     "auto: compute where the weights are (CPU: float32; GPU: half). float32: float32 "
                     "everywhere. half_on_gpu: load the adapter to the GPU for the one-off projection and "
                     "compute in half precision. keep_on_cpu: never put the adapter on the GPU; only the "
                     "small identity K/V reaches it."}),
            "half_type": (list(HALF_TYPES), {"default": "fp16", "tooltip":
                          "Half type for GPUs; bf16 falls back to fp16 on GPUs without bf16."}),
        }}

    RETURN_TYPES = (INSTANTID_TYPE, "STRING")
    RETURN_NAMES = ("instantid", "report")
    OUTPUT_TOOLTIPS = ("The same adapter with this precision policy attached.",
                       "Text: where each part runs and in which dtype (also shown on the node).")
    FUNCTION = "configure"
    OUTPUT_NODE = True

    def configure(self, instantid, mode, half_type):
        handle = instantid.with_policy(PrecisionPolicy.parse(mode, half_type))
        report = precision_report(handle)
        return {"ui": {"text": [report]}, "result": (handle, report)}
