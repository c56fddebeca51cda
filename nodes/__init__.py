"""ComfyUI adapters for instantid_core. Classic node classes (INPUT_TYPES / FUNCTION): they work on every
ComfyUI release of the last year, including those that also offer the newer V3 schema. Each class states its
id, display name and description once (nodes/node_base.py); the registry below only lists them."""
from .apply_nodes import InstantIDApply, InstantIDApplyAttention, InstantIDApplyIdentityNet, InstantIDApplyAllInOne
from .doctor_node import InstantIDModelDoctor
from .example_inputs import install_example_inputs
from .face_nodes import InstantIDFaceAnalysisLoader, InstantIDFaceDetect, InstantIDFaceKeypoints
from .face_region_nodes import InstantIDFaceCrop, InstantIDFaceStitch
from .group_swap_node import InstantIDGroupFaceCrop, InstantIDGroupFaceStitch
from .folders import register_model_folders
from . import download_route, keypoint_presets_route, migration_route  # noqa: F401  (routes, when a server runs)
from .manual_keypoints_node import InstantIDManualKeypoints
from .identity_file_nodes import InstantIDLoadIdentity, InstantIDSaveIdentity
from .identity_score_node import InstantIDIdentityScore
from .model_nodes import InstantIDModelLoader, InstantIDPrecisionOffload
from .node_replacements import register_replacements
from .multi_person_node import InstantIDMultiPerson
from .projection_node import InstantIDImageProjection

register_model_folders()
register_replacements()  # cubiq's loaders -> ours, in ComfyUI's Node Replacement where the core has it
install_example_inputs()  # the photos the shipped workflows name, never over a user's file

NODES = (InstantIDFaceAnalysisLoader, InstantIDFaceDetect, InstantIDFaceKeypoints, InstantIDManualKeypoints,
         InstantIDModelLoader,
         InstantIDPrecisionOffload, InstantIDImageProjection, InstantIDApplyAttention, InstantIDApplyIdentityNet,
         InstantIDApply, InstantIDApplyAllInOne, InstantIDModelDoctor, InstantIDFaceCrop, InstantIDFaceStitch,
         InstantIDIdentityScore, InstantIDSaveIdentity, InstantIDLoadIdentity, InstantIDMultiPerson,
         InstantIDGroupFaceCrop, InstantIDGroupFaceStitch)
NODE_CLASS_MAPPINGS = {cls.NODE_ID: cls for cls in NODES}
NODE_DISPLAY_NAME_MAPPINGS = {cls.NODE_ID: cls.DISPLAY_NAME for cls in NODES}
