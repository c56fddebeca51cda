"""ComfyUI adapters for instantid_core. Classic node classes (INPUT_TYPES / FUNCTION): they work on every
ComfyUI release of the last year, including those that also offer the newer V3 schema."""
from .doctor_node import InstantIDModelDoctor
from .apply_nodes import InstantIDApply, InstantIDApplyAttention, InstantIDApplyIdentityNet, InstantIDApplySimple
from .face_nodes import InstantIDFaceAnalysisLoader, InstantIDFaceDetect, InstantIDFaceKeypoints
from .folders import register_model_folders
from .model_nodes import InstantIDModelLoader, InstantIDPrecisionManager
from .projection_node import InstantIDImageProjection

register_model_folders()

_NODES = (
    (InstantIDFaceAnalysisLoader, "InstantID Face Analysis (insightface)"),
    (InstantIDFaceDetect, "InstantID Face Detect"),
    (InstantIDFaceKeypoints, "InstantID Face Keypoints"),
    (InstantIDModelLoader, "InstantID Model Loader"),
    (InstantIDPrecisionManager, "InstantID Precision / Offload"),
    (InstantIDImageProjection, "InstantID Image Projection"),
    (InstantIDApplyAttention, "Apply InstantID Attention"),
    (InstantIDApplyIdentityNet, "Apply IdentityNet"),
    (InstantIDApply, "Apply InstantID + IdentityNet"),
    (InstantIDApplySimple, "Apply InstantID (all-in-one)"),
    (InstantIDModelDoctor, "InstantID Model Doctor"),
)
NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls, _ in _NODES}
NODE_DISPLAY_NAME_MAPPINGS = {cls.__name__: name for cls, name in _NODES}
