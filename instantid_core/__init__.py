"""InstantID math, file formats, face analysis and precision policy — plain torch/numpy, no ComfyUI.

Floors, each importing only the floors to its right (tests/test_core_floors.py holds every import to it):

    files → faces → compute → ground (errors, input_checks)        workflow_formats/ apart (→ ground only)

files/ reads and writes model and identity files into the objects below it, faces/ is face analysis and face
geometry, compute/ the InstantID math and precision policy, the ground floor (errors.py, input_checks.py) the
errors and the checks every floor shares. workflow_formats/ (workflow JSON) imports no other floor but the ground.

Pipeline stage → module:
  face photo → faces (boxes, 5 keypoints, raw 512-d embedding)   faces.face_analysis (+ faces.antelope_files)
  adapter file → validated tensors → one torch module             files.adapter_file (→ compute.instantid_model)
  embeddings → combined → identity tokens [I, 16, 2048]           compute.identity (combine_embeddings,
                                                                  project_identity; the resampler: compute.resampler)
  tokens → every attn2 layer's identity K/V, computed once        compute.identity (compute_identity_kv)
  the UNet's attn2 layers → the adapter's keys 1, 3, …, 139       compute.layer_map
  identity attention added to each attn2 output                   compute.identity_attention
  keypoint image for IdentityNet                                  compute.keypoints
  face crop (region, upright, scaled, padded) and its description faces.face_region
  feathered face mask of a crop; crop → back into the photo       faces.face_mask; faces.face_stitch
  manual keypoints (presets, editor JSON, rotate/scale/move)      faces.manual_keypoints
  where and in which dtype each of the above computes             compute.precision
  node input values that cannot work                              input_checks, errors
  "does it look like the person?": the Identity Score (FaceSim)  faces.identity_score
  a person's faces saved / loaded without the photos             files.identity_file
  is everything installed? which file is which?                   files.doctor, files.model_kinds, files.model_catalog
  cubiq/ComfyUI_InstantID workflows → this pack's nodes           workflow_formats.cubiq_workflows (+ ui_graph,
                                                                  widget_specs, listed_names;
                                                                  its input bounds: workflow_input_checks)
  the frontend's node sizes (placing nodes without overlaps)      workflow_formats.node_sizes

Submodules are imported by name (``from instantid_core.compute.identity import ...``). Heavy optional
dependencies (insightface, onnxruntime, OpenCV, huggingface_hub) are imported only inside the functions that need
them, so importing this package costs only what torch already costs.
"""
__version__ = "0.2.0"
