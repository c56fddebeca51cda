"""Node body sizes [width, height] at which the ComfyUI frontend (comfyui-frontend-package 1.27.10) lays out the
nodes that the shipped workflows (scripts/build_workflows.py) and the cubiq converter place, before a run. The
heights are the frontend's own computeSize() for these nodes' widgets, measured in the browser; the widths
leave room for long file names. LiteGraph draws the title bar (TITLE_H) above a node's body."""
from __future__ import annotations

TITLE_H = 30

FRONTEND_SIZES = {
    "CheckpointLoaderSimple": [340, 98], "ControlNetLoader": [340, 58], "LoadImage": [340, 326],
    "InstantIDPrecision_FaceAnalysisLoader": [340, 82], "InstantIDPrecision_ModelLoader": [340, 58],
    "CLIPTextEncode": [400, 180], "EmptyLatentImage": [320, 106],
    "ImageBatch": [250, 46],  # ComfyUI 0.33 titles it "Batch Images (DEPRECATED)", 235 px wide
    "InstantIDPrecision_FaceDetect": [320, 126], "InstantIDPrecision_PrecisionOffload": [320, 102],
    "InstantIDPrecision_ImageProjection": [320, 150], "InstantIDPrecision_FaceKeypoints": [320, 106],
    "InstantIDPrecision_Apply": [300, 290], "InstantIDPrecision_ApplyAttention": [300, 146],
    "InstantIDPrecision_ApplyIdentityNet": [300, 266], "ControlNetApplyAdvanced": [300, 186],
    "SolidMask": [320, 106], "MaskComposite": [320, 126], "InvertMask": [200, 26],
    "KSampler": [320, 262], "VAEDecode": [200, 46], "SaveImage": [400, 58],
    "ConditioningSetMask": [320, 102],
    "InstantIDPrecision_FaceCrop": [320, 330], "InstantIDPrecision_FaceStitch": [320, 166],
    "InpaintModelConditioning": [300, 138], "InstantIDPrecision_ManualKeypoints": [340, 470],
    "PreviewImage": [400, 26], "InstantIDPrecision_IdentityScore": [320, 230],
    "InstantIDPrecision_MultiPerson": [320, 446],
}
