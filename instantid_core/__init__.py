"""InstantID math, file formats, face analysis and precision policy — plain torch/numpy, no ComfyUI.

Submodules are imported by name (``from instantid_core.identity import ...``). Heavy optional
dependencies (insightface, onnxruntime, OpenCV) are imported only inside the functions that need them,
so importing this package costs only what torch already costs.
"""
__version__ = "0.1.0"
