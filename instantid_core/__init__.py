"""InstantID math, file formats, face analysis and precision policy — plain torch/numpy, no ComfyUI.

Pipeline stage → module:
  face photo → faces (boxes, 5 keypoints, raw 512-d embedding)   face_analysis (+ antelope_files: the model pack)
  adapter file → validated tensors → one torch module             adapter_file → instantid_model
  embeddings → combined → identity tokens [I, 16, 2048]           identity (combine_embeddings, project_identity;
                                                                  the resampler itself: resampler)
  tokens → every attn2 layer's identity K/V, computed once        identity (compute_identity_kv)
  the UNet's attn2 layers → the adapter's keys 1, 3, …, 139       layer_map
  identity attention added to each attn2 output                   identity_attention
  keypoint image for IdentityNet                                  keypoints
  where and in which dtype each of the above computes             precision
  node input values that cannot work                              input_checks, errors
  is everything installed? which file is which?                   doctor, model_kinds, model_catalog
  cubiq/ComfyUI_InstantID workflows → this pack's nodes           cubiq_workflows

Submodules are imported by name (``from instantid_core.identity import ...``). Heavy optional
dependencies (insightface, onnxruntime, OpenCV, huggingface_hub) are imported only inside the functions that need
them, so importing this package costs only what torch already costs.
"""
__version__ = "0.2.0"
