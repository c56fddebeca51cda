"""Test-only ComfyUI custom node (a single-file pack): stand-ins for the nodes of two packs that cubiq's example
workflows use besides InstantID, and of which this project keeps no snapshot: ``ImageFlip+`` and ``MaskFlip+``
(cubiq's ComfyUI_essentials, in the multi-ID example) and ``Zoe-DepthMapPreprocessor`` (comfyui_controlnet_aux, in
the depth example). Same ids, inputs and outputs as those packs, simple bodies (a flip; a luminance map for the
depth map), so the examples can be validated and run; they are not what the tests examine.

ComfyUI loads it like any custom node (``load_custom_node`` in-process, or a link in a server's custom_nodes)."""


class ImageFlipStandIn:
    CATEGORY = "test stand-ins"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "execute"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "axis": (["x", "y", "xy"],)}}

    def execute(self, image, axis):
        import torch
        dims = tuple(d for d, a in ((1, "y"), (2, "x")) if a in axis)  # IMAGE is [batch, height, width, channel]
        return (torch.flip(image, dims),)


class MaskFlipStandIn:
    CATEGORY = "test stand-ins"
    RETURN_TYPES = ("MASK",)
    FUNCTION = "execute"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",), "axis": (["x", "y", "xy"],)}}

    def execute(self, mask, axis):
        import torch
        dims = tuple(d for d, a in ((-2, "y"), (-1, "x")) if a in axis)  # MASK is [batch, height, width]
        return (torch.flip(mask, dims),)


class DepthMapStandIn:
    CATEGORY = "test stand-ins"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "execute"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)},
                "optional": {"resolution": ("INT", {"default": 512, "min": 64, "max": 16384, "step": 64})}}

    def execute(self, image, resolution=512):
        luminance = (image[..., :3] * image.new_tensor([0.299, 0.587, 0.114])).sum(-1, keepdim=True)
        return (luminance.expand(*luminance.shape[:-1], 3).contiguous(),)


NODE_CLASS_MAPPINGS = {"ImageFlip+": ImageFlipStandIn, "MaskFlip+": MaskFlipStandIn,
                       "Zoe-DepthMapPreprocessor": DepthMapStandIn}
NODE_DISPLAY_NAME_MAPPINGS = {k: f"{k} (test stand-in)" for k in NODE_CLASS_MAPPINGS}
