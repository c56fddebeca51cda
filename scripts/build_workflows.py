"""Regenerate example_workflows/*.json (UI format) from the real node definitions of a ComfyUI + this pack.

    COMFYUI_PATH=/path/to/ComfyUI python scripts/build_workflows.py [workflow name ...]

Inputs, outputs and the order of widget values come from each node class, so the files cannot drift
from the nodes; the graph of each workflow is described below (its recipe). The graph builder (nodes, links, the
properties the frontend and ComfyUI-Manager read, the layout) is scripts/workflow_graph.py.
"""
import json
import tempfile
import sys
from pathlib import Path

import _bootstrap  # noqa: F401  (the pack and the test kit, importable by name)
from instantid_testkit import comfy_support as cs
from workflow_graph import BYPASSED, Graph, comfy_version, pack_identity

from instantid_core.faces.antelope_files import ANTELOPE_DIRNAME, ANTELOPE_FILES
from instantid_core.files.example_inputs import PREFIX as EXAMPLE_PREFIX
from instantid_core.files.model_catalog import ADAPTER, IDENTITYNET, files_for, frontend_model_entries

ROOT = Path(__file__).resolve().parents[1]

NEGATIVE = "lowres, blurry, deformed, watermark, text, extra fingers"
PORTRAIT = "analog film photo of a person, portrait, natural light, detailed skin, 85mm"

# The SDXL checkpoint the workflows name: the official SDXL base 1.0 file (any SDXL checkpoint works). Its
# sha256 is the LFS oid of the file on huggingface.co (size 6,938,078,334 bytes).
SDXL_MODEL = {"name": "sd_xl_base_1.0.safetensors",
              "url": "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/"
                     "sd_xl_base_1.0.safetensors",
              "hash": "31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b", "hash_type": "SHA256",
              "directory": "checkpoints"}
ADAPTER_MODEL, IDENTITYNET_MODEL = frontend_model_entries([ADAPTER])[0], frontend_model_entries([IDENTITYNET])[0]


# ---------------------------------------------------------------------------------------------- the notes

def _gb(size):
    return f"{size / 1e9:.1f} GB"


def models_note():
    adapter, identitynet = files_for([ADAPTER]), files_for([IDENTITYNET])
    antelope = ", ".join(ANTELOPE_FILES)
    pack = "custom_nodes/<this pack's folder>"
    return (
        "Model files (in ComfyUI/models/):\n"
        f"- instantid/{adapter[0].target}: InstantID adapter, InstantX/InstantID ({_gb(adapter[0].size)})\n"
        f"- controlnet/{identitynet[0].target}: IdentityNet, InstantX/InstantID ControlNetModel "
        f"({_gb(identitynet[0].size)}; the place ComfyUI-Manager uses)\n"
        f"- insightface/models/{ANTELOPE_DIRNAME}/: the five antelopev2 files {antelope} (insightface's pack, "
        "non-commercial research use only)\n"
        f"- checkpoints/: any SDXL checkpoint ({SDXL_MODEL['name']} is named here; pick yours in Load Checkpoint)\n"
        "\n"
        "Download the InstantID files (adapter, IdentityNet, antelopev2) from the ComfyUI folder with:\n"
        f"    python {pack} download\n"
        f"and check every file with:  python {pack} doctor\n"
        "(<this pack's folder> is the name this pack has in custom_nodes: instantid-precision when installed "
        "from the Registry or ComfyUI-Manager, else the folder you cloned it into.)\n"
        "\n"
        "ComfyUI's 'Missing Models' dialog offers downloads for the .safetensors files only (SDXL base, "
        f"IdentityNet). It lists {adapter[0].target} without a download (the frontend downloads .safetensors/.sft "
        "files only), and it cannot list the antelopev2 files (.onnx files in a nested folder are not model "
        "files to it): use the download command for those. On ComfyUI Desktop use it for IdentityNet too: the "
        "dialog's download there cannot save into the instantid/ subfolder."
    )


# ---------------------------------------------------------------------------------------------- the graphs

def base(g):
    """Checkpoint, prompts, face analysis, adapter, IdentityNet, latent: the parts every workflow shares."""
    ckpt = g.add("CheckpointLoaderSimple", col=0, ckpt_name=SDXL_MODEL["name"], models=[SDXL_MODEL])
    cn = g.add("ControlNetLoader", "IdentityNet", col=0, control_net_name=IDENTITYNET_MODEL["name"],
               models=[IDENTITYNET_MODEL])
    iid = g.add("InstantIDPrecision_ModelLoader", col=0, instantid_file=ADAPTER_MODEL["name"], models=[ADAPTER_MODEL])
    fa = g.add("InstantIDPrecision_FaceAnalysisLoader", col=0, provider="auto")
    pos = g.add("CLIPTextEncode", "Positive prompt", col=1, text=PORTRAIT)
    neg = g.add("CLIPTextEncode", "Negative prompt", col=1, text=NEGATIVE)
    g.link(ckpt, 1, pos, "clip")
    g.link(ckpt, 1, neg, "clip")
    lat = g.add("EmptyLatentImage", col=1, width=1016, height=1016, batch_size=1)
    return ckpt, pos, neg, fa, iid, cn, lat


def example(name: str) -> str:
    """A photo from example_inputs/, which the pack copies into ComfyUI's input folder at start-up."""
    return f"{EXAMPLE_PREFIX}{name}.jpg"


def face(g, fa, title="Face photo", selection="largest", image=example("face"), col=0):
    img = g.add("LoadImage", title, col=col, image=image)
    det = g.add("InstantIDPrecision_FaceDetect", col=col + 1, level=img["pos"][1], selection=selection)
    g.link(fa, 0, det, "face_analysis")
    g.link(img, 0, det, "image")
    return img, det


def project(g, iid, det, col=2, combine="average"):
    proj = g.add("InstantIDPrecision_ImageProjection", col=col, level=det["pos"][1], combine=combine)
    g.link(iid, 0, proj, "instantid")
    g.link(det, 0, proj, "faces")
    return proj


SCORE_NOTE = ("Identity Score (bypassed: select it and press Ctrl+B to turn it on) scores each image against the "
              "reference face: the cosine similarity of their face embeddings, 1 = the same face direction. It "
              "runs face analysis once more per image.")


def score(g, fa, images, col, level=None, bypassed=True, face="largest", preview_order="batch order", **refs):
    """An InstantID Identity Score on ``images`` (a (node, slot) pair) against ``refs`` (input name -> node)."""
    node = g.add("InstantIDPrecision_IdentityScore", col=col, level=level, face=face, preview_order=preview_order)
    g.link(fa, 0, node, "face_analysis")
    g.link(images[0], images[1], node, "images")
    for name, src in refs.items():
        g.link(src, 0, node, name)
    if bypassed:
        node["mode"] = BYPASSED
    return node


def finish(g, ckpt, model, positive, negative, lat, col):
    ks = g.add("KSampler", col=col, seed=42, steps=30, cfg=4.5, sampler_name="dpmpp_2m", scheduler="karras")
    g.link(model[0], model[1], ks, "model")
    g.link(positive[0], positive[1], ks, "positive")
    g.link(negative[0], negative[1], ks, "negative")
    g.link(lat, 0, ks, "latent_image")
    dec = g.add("VAEDecode", col=col + 1)
    g.link(ks, 0, dec, "samples")
    g.link(ckpt, 2, dec, "vae")
    save = g.add("SaveImage", col=col + 2, filename_prefix="InstantID")
    g.link(dec, 0, save, "images")
    ks["_decoded"] = dec  # for the optional Identity Score (dropped when written)
    return ks


def apply(g, ckpt_or_model, pos, neg, cn, proj, lat, col, model_slot=0, **kw):
    node = g.add("InstantIDPrecision_Apply", col=col, **kw)
    g.link(ckpt_or_model, model_slot, node, "model")
    g.link(pos[0], pos[1], node, "positive")
    g.link(neg[0], neg[1], node, "negative")
    g.link(cn, 0, node, "control_net")
    g.link(proj, 0, node, "identity")
    g.link(lat, 0, node, "latent")
    return node


def basic_portrait(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    _, det = face(g, fa)
    proj = project(g, iid, det)
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, col=3)
    ks = finish(g, ckpt, (a, 0), (a, 1), (a, 2), lat, col=4)
    score(g, fa, (ks["_decoded"], 0), col=6, identity=proj)
    g.note("Basic InstantID portrait from one face photo.\n\n" + SCORE_NOTE + "\n\n" + models_note())


def pose_from_photo(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    _, det = face(g, fa)
    _, pose_det = face(g, fa, "Pose photo", image=example("pose"))
    proj = project(g, iid, det)
    kps = g.add("InstantIDPrecision_FaceKeypoints", col=2, level=pose_det["pos"][1], width=1016, height=1016)
    g.link(pose_det, 0, kps, "faces")
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, col=3)
    g.link(kps, 0, a, "image_kps")
    ks = finish(g, ckpt, (a, 0), (a, 1), (a, 2), lat, col=4)
    score(g, fa, (ks["_decoded"], 0), col=6, identity=proj)
    g.note("Identity from 'Face photo', head pose and position from 'Pose photo'.\n\n" + SCORE_NOTE + "\n\n" +
           models_note())


def manual_keypoints(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    _, det = face(g, fa)
    proj = project(g, iid, det)
    kps = g.add("InstantIDPrecision_ManualKeypoints", "Manual keypoints", col=2, preset="three-quarter left",
                width=1016, height=1016)
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, col=3)
    g.link(kps, 0, a, "image_kps")
    ks = finish(g, ckpt, (a, 0), (a, 1), (a, 2), lat, col=4)
    score(g, fa, (ks["_decoded"], 0), col=6, identity=proj)
    g.note("Identity from 'Face photo', head pose from 'Manual keypoints' (no pose photo): pick a preset, or "
           "drag the five points on the node (left eye, right eye, nose, mouth corners); drag an empty spot to "
           "move the face, Shift-drag to turn it, mouse wheel or Alt-drag to size it. Keep its width/height equal "
           "to the Empty Latent Image's. A pose far from the photo's needs more IdentityNet strength (cn_strength) "
           "to be followed.\n\n" + models_note())


def two_people(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    _, det_a = face(g, fa, "Face photo A")
    _, det_b = face(g, fa, "Face photo B", image=example("face_b"))
    _, pose = face(g, fa, "Pose photo (two people)", selection="all", image=example("two_people"))
    proj_a = project(g, iid, det_a)
    proj_b = project(g, iid, det_b)
    kps = g.add("InstantIDPrecision_FaceKeypoints", col=2, level=pose["pos"][1], width=1016, height=1016)
    g.link(pose, 0, kps, "faces")
    empty = g.add("SolidMask", "Left half mask", col=0, value=0.0, width=1016, height=1016)
    half = g.add("SolidMask", col=0, value=1.0, width=508, height=1016)
    left = g.add("MaskComposite", "Left half", col=1, level=empty["pos"][1], x=0, y=0, operation="add")
    g.link(empty, 0, left, "destination")
    g.link(half, 0, left, "source")
    right = g.add("InvertMask", "Right half", col=2, level=left["pos"][1])
    g.link(left, 0, right, "mask")
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj_a, lat, col=3)
    g.link(kps, 0, a, "image_kps")
    g.link(left, 0, a, "mask")
    b = apply(g, a, (a, 1), (a, 2), cn, proj_b, lat, col=4)
    g.link(kps, 0, b, "image_kps")
    g.link(right, 0, b, "mask")
    ks = finish(g, ckpt, (b, 0), (b, 1), (b, 2), lat, col=5)
    score(g, fa, (ks["_decoded"], 0), col=7, face="best match", identity=proj_a, identity_2=proj_b)
    g.note("Two people: identity A on the left half, B on the right (masks), keypoints of both faces from a "
           "two-person pose photo. Each Apply node adds its identity; the ControlNets chain.\n\n" + SCORE_NOTE +
           " Here it scores each person (A, B) on the face most like them.\n\n" + models_note())


def three_people(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    dets = [face(g, fa, f"Face photo {who}", image=image)[1]
            for who, image in (("A", example("face")), ("B", example("face_b")), ("C", example("face_2")))]
    _, layout = face(g, fa, "Pose photo (three people)", selection="all", image=example("three_people"))
    projs = [project(g, iid, det) for det in dets]
    multi = g.add("InstantIDPrecision_MultiPerson", col=3, assignment="order", order="0,1,2")
    g.link(ckpt, 0, multi, "model")
    g.link(pos, 0, multi, "positive")
    g.link(neg, 0, multi, "negative")
    g.link(cn, 0, multi, "control_net")
    g.link(layout, 0, multi, "faces")
    g.link(lat, 0, multi, "latent")
    for n, proj in enumerate(projs):
        g.link(proj, 0, multi, f"identity_{n}")
    ks = finish(g, ckpt, (multi, 0), (multi, 1), (multi, 2), lat, col=4)
    score(g, fa, (ks["_decoded"], 0), col=6, face="best match", identity=projs[0], identity_2=projs[1])
    g.note("Three people from a group pose photo, without masks: 'Pose photo (three people)' places and poses them "
           "(its faces, left to right), Multi-Person gives face 0 identity A, face 1 B, face 2 C (the order "
           "'0,1,2'; 'by likeness' matches them by face when the pose photo shows the same people). Each identity "
           "and its own IdentityNet act only inside its face's region; the node's report lists the regions and "
           "any warning. Up to six identities: connect identity_3 and on, in order.\n\n" + SCORE_NOTE +
           " Here it scores people A and B on the face most like each.\n\n" + models_note())


def split_with_second_controlnet(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    _, det = face(g, fa)
    cn2 = g.add("ControlNetLoader", "Second ControlNet (depth, canny, …)", col=0,
                control_net_name="controlnet-depth-sdxl-1.0.safetensors")
    hint = g.add("LoadImage", "Control image (already preprocessed)", col=0, image=example("depth"))
    proj = project(g, iid, det)
    attn = g.add("InstantIDPrecision_ApplyAttention", col=3)
    g.link(ckpt, 0, attn, "model")
    g.link(proj, 0, attn, "identity")
    inet = g.add("InstantIDPrecision_ApplyIdentityNet", col=3)
    for name, src in (("positive", pos), ("negative", neg)):
        g.link(src, 0, inet, name)
    g.link(cn, 0, inet, "control_net")
    g.link(proj, 0, inet, "identity")
    g.link(lat, 0, inet, "latent")
    extra = g.add("ControlNetApplyAdvanced", col=4, level=inet["pos"][1], strength=0.5, start_percent=0.0,
                  end_percent=0.8)
    g.link(inet, 0, extra, "positive")
    g.link(inet, 1, extra, "negative")
    g.link(cn2, 0, extra, "control_net")
    g.link(hint, 0, extra, "image")
    ks = finish(g, ckpt, (attn, 0), (extra, 0), (extra, 1), lat, col=5)
    score(g, fa, (ks["_decoded"], 0), col=7, identity=proj)
    g.note(SCORE_NOTE + "\n\n" + "The two halves of InstantID as separate nodes: identity attention on the model, IdentityNet on the "
           "conditioning, followed by a second ControlNet that chains after IdentityNet. The second ControlNet "
           "needs its own SDXL ControlNet file (your choice, so no download is offered for it) and a preprocessed "
           "control image.\n\n" + models_note())


def multi_reference(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    one = g.add("LoadImage", "Face photo 1", col=0, image=example("face"))
    two = g.add("LoadImage", "Face photo 2", col=0, image=example("face_2"))
    batch = g.add("ImageBatch", col=1, level=one["pos"][1])
    g.link(one, 0, batch, "image1")
    g.link(two, 0, batch, "image2")
    det = g.add("InstantIDPrecision_FaceDetect", col=2, level=batch["pos"][1])
    g.link(fa, 0, det, "face_analysis")
    g.link(batch, 0, det, "image")
    proj = project(g, iid, det, col=3, combine="instantx_multi_photo")
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, col=4)
    ks = finish(g, ckpt, (a, 0), (a, 1), (a, 2), lat, col=5)
    score(g, fa, (ks["_decoded"], 0), col=7, identity=proj)
    g.note("Several photos of the same person. Face Detect takes the largest face of each photo, and the Image "
           "Projection's combine mode 'instantx_multi_photo' feeds all their face embeddings to InstantID's "
           "resampler together, as one sequence, which is what InstantX's own pipeline does with several "
           "reference photos: one identity built from all of them, usually a steadier likeness than any single "
           "photo. (average / norm_average instead average the embeddings first.) Add more photos with more "
           "Batch Images nodes (photos of different sizes are resized to the first). " + SCORE_NOTE + " With several "
           "photos it scores against their mean embedding.\n\n" + models_note())


def cpu_low_vram(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    fa["widgets_values"][0] = "CPU"
    prec = g.add("InstantIDPrecision_PrecisionOffload", col=1, mode="keep_on_cpu", half_type="fp16")
    g.link(iid, 0, prec, "instantid")
    _, det = face(g, fa)
    proj = project(g, prec, det)
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, col=3)
    ks = finish(g, ckpt, (a, 0), (a, 1), (a, 2), lat, col=4)
    score(g, fa, (ks["_decoded"], 0), col=6, identity=proj)
    ks["widgets_values"][2] = 20
    lat["widgets_values"][:2] = [896, 896]
    g.note("CPU-only or low-VRAM (8 GB) setup. Start ComfyUI with --cpu (no GPU) or --lowvram. The "
           "Precision/Offload node keeps InstantID's 1.7 GB adapter off the GPU and computes its embedding math "
           "in float32 on the CPU once; only ~20 MB of identity K/V reach the GPU. Its report shows where each "
           "part runs.\n\n" + SCORE_NOTE + "\n\n" + models_note())


def best_of_four(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    lat["widgets_values"][2] = 4
    _, det = face(g, fa)
    proj = project(g, iid, det)
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, col=3)
    ks = g.add("KSampler", col=4, seed=42, steps=30, cfg=4.5, sampler_name="dpmpp_2m", scheduler="karras")
    for slot, name in ((0, "model"), (1, "positive"), (2, "negative")):
        g.link(a, slot, ks, name)
    g.link(lat, 0, ks, "latent_image")
    dec = g.add("VAEDecode", col=5)
    g.link(ks, 0, dec, "samples")
    g.link(ckpt, 2, dec, "vae")
    sc = score(g, fa, (dec, 0), col=6, bypassed=False, preview_order="best first", identity=proj)
    save = g.add("SaveImage", "Best of four", col=7, filename_prefix="InstantID_best")
    g.link(sc, 3, save, "images")
    show = g.add("PreviewImage", "All four, best first", col=7)
    g.link(sc, 4, show, "images")
    g.note("Best of four: one queue makes 4 images of the same person (batch_size 4, different noise each), the "
           "Identity Score measures how much each looks like the face photo (cosine similarity of the face "
           "embeddings, 1 = the same face direction), saves the best one and previews all four best first with "
           "their scores written on them. The table on the score node lists every image's score.\n\n" +
           models_note())


# ------------------------------------------------------------------------------------------- face regions

SWAP_PROMPT = "photo of a person, detailed face, natural skin, sharp focus"
FULL_BODY = "full body photo of a person standing in a park, natural light, detailed, 35mm"


def face_crop(g, fa, img, col, selection="largest", face_index=0, detect_selection="largest", on_no_face="error"):
    """Face Detect on ``img`` and Face Crop of the chosen face (titled 'Face crop', for --set)."""
    det = g.add("InstantIDPrecision_FaceDetect", col=col, level=img["pos"][1], selection=detect_selection,
                on_no_face="error" if on_no_face == "error" else "skip image")
    g.link(fa, 0, det, "face_analysis")
    g.link(img, 0, det, "image")
    crop = g.add("InstantIDPrecision_FaceCrop", "Face crop", col=col + 1, level=det["pos"][1], selection=selection,
                 face_index=face_index, on_no_face=on_no_face)
    g.link(img, 0, crop, "image")
    g.link(det, 0, crop, "faces")
    return crop


def regenerate_crop(g, ckpt, model, pos, neg, cn, proj, crop, col, denoise, cn_strength=0.8):
    """InstantID on the crop (keypoints from the crop: the crop's own pose), inpainted through the crop's mask
    with ComfyUI's InpaintModelConditioning, sampled at ``denoise``; returns the decoded crop."""
    a = g.add("InstantIDPrecision_Apply", col=col, cn_strength=cn_strength)
    g.link(model[0], model[1], a, "model")
    g.link(pos[0], pos[1], a, "positive")
    g.link(neg[0], neg[1], a, "negative")
    g.link(cn, 0, a, "control_net")
    g.link(proj, 0, a, "identity")
    g.link(crop, 2, a, "image_kps")
    inpaint = g.add("InpaintModelConditioning", col=col + 1, level=a["pos"][1], noise_mask=True)
    g.link(a, 1, inpaint, "positive")
    g.link(a, 2, inpaint, "negative")
    g.link(ckpt, 2, inpaint, "vae")
    g.link(crop, 0, inpaint, "pixels")
    g.link(crop, 1, inpaint, "mask")
    ks = g.add("KSampler", col=col + 2, level=a["pos"][1], seed=42, steps=30, cfg=4.5, sampler_name="dpmpp_2m",
               scheduler="karras", denoise=denoise)
    g.link(a, 0, ks, "model")
    g.link(inpaint, 0, ks, "positive")
    g.link(inpaint, 1, ks, "negative")
    g.link(inpaint, 2, ks, "latent_image")
    dec = g.add("VAEDecode", col=col + 3, level=ks["pos"][1])
    g.link(ks, 0, dec, "samples")
    g.link(ckpt, 2, dec, "vae")
    return dec


def stitch_and_save(g, img, dec, crop, col, prefix, **widgets):
    st = g.add("InstantIDPrecision_FaceStitch", col=col, level=dec["pos"][1], **widgets)
    g.link(img, 0, st, "image")
    g.link(dec, 0, st, "generated")
    g.link(crop, 3, st, "crop_info")
    save = g.add("SaveImage", col=col + 1, level=st["pos"][1], filename_prefix=prefix)
    g.link(st, 0, save, "images")
    return st


def swap_base(g, title, image, **crop_kw):
    """Shared by face swap and the group photo: identity from 'Face photo', face region from the target."""
    ckpt = g.add("CheckpointLoaderSimple", col=0, ckpt_name=SDXL_MODEL["name"], models=[SDXL_MODEL])
    cn = g.add("ControlNetLoader", "IdentityNet", col=0, control_net_name=IDENTITYNET_MODEL["name"],
               models=[IDENTITYNET_MODEL])
    iid = g.add("InstantIDPrecision_ModelLoader", col=0, instantid_file=ADAPTER_MODEL["name"], models=[ADAPTER_MODEL])
    fa = g.add("InstantIDPrecision_FaceAnalysisLoader", col=0, provider="auto")
    _, det = face(g, fa)
    proj = project(g, iid, det)
    target = g.add("LoadImage", title, col=0, image=image)
    crop = face_crop(g, fa, target, col=1, **crop_kw)
    pos = g.add("CLIPTextEncode", "Positive prompt", col=1, text=SWAP_PROMPT)
    neg = g.add("CLIPTextEncode", "Negative prompt", col=1, text=NEGATIVE)
    g.link(ckpt, 1, pos, "clip")
    g.link(ckpt, 1, neg, "clip")
    dec = regenerate_crop(g, ckpt, (ckpt, 0), (pos, 0), (neg, 0), cn, proj, crop, col=3, denoise=0.9)
    stitch_and_save(g, target, dec, crop, col=7, prefix="InstantID_swap")
    score(g, fa, (dec, 0), col=9, identity=proj)  # the regenerated face, at full crop resolution


SWAP_KNOBS = (
    "Knobs that matter: KSampler denoise (0.9 here: high enough to replace the face, lower keeps more of the "
    "target's look); Face crop padding (context around the face; 0.5 = a region twice the face), long_side (1024 "
    "for SDXL), mask_grow / feather (how far the new face reaches and how soft its edge is; nothing outside the "
    "mask changes); Apply InstantID ip_weight / cn_strength. The keypoints come from the target's crop, so the "
    "head keeps the target's pose. Face Stitch's color_match (lab_mean_std) takes the photo's light onto the new "
    "face; off keeps the identity's own skin tone.\n\n")


def face_swap(g):
    swap_base(g, "Target photo", example("target"))
    g.note("Face swap: the face of 'Face photo' into 'Target photo'. Face Crop cuts the target's face out "
           "(upright, scaled to 1024, with context), InstantID regenerates it inside the face mask "
           "(InpaintModelConditioning; works with any SDXL checkpoint, inpainting ones too), Face Stitch turns and "
           "scales it back into the photo.\n"
           "Headless: python custom_nodes/<this pack's folder> run example_workflows/instantid_face_swap.json "
           "--face me.jpg --target photo.jpg --out swapped.png\n\n" + SWAP_KNOBS + models_note())


def group_photo(g):
    swap_base(g, "Target photo (group)", example("two_people"), selection="index_left_to_right", face_index=1,
              detect_selection="all")
    g.note("Group photo, one face replaced: the person at 'face_index' counted LEFT TO RIGHT in 'Target photo "
           "(group)' (0 = leftmost; the Face Detect preview numbers the faces) gets the face of 'Face photo'; every "
           "other pixel outside that face's mask stays as it was. Face Detect keeps all faces (selection 'all'), "
           "Face crop chooses one.\n"
           "Headless: python custom_nodes/<this pack's folder> run example_workflows/instantid_group_photo_one_face.json "
           "--face me.jpg --target group.jpg --set \"Face crop.face_index=2\" --out group_swapped.png\n\n"
           + SWAP_KNOBS + models_note())


def face_detailer(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    pos["widgets_values"][0] = FULL_BODY
    lat["widgets_values"][:2] = [832, 1216]
    _, det = face(g, fa)
    proj = project(g, iid, det)
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, col=3)
    ks = g.add("KSampler", col=4, seed=42, steps=30, cfg=4.5, sampler_name="dpmpp_2m", scheduler="karras")
    g.link(a, 0, ks, "model")
    g.link(a, 1, ks, "positive")
    g.link(a, 2, ks, "negative")
    g.link(lat, 0, ks, "latent_image")
    first = g.add("VAEDecode", "Full-body image", col=5)
    g.link(ks, 0, first, "samples")
    g.link(ckpt, 2, first, "vae")
    crop = face_crop(g, fa, first, col=6, on_no_face="pass through")
    dec = regenerate_crop(g, ckpt, (ckpt, 0), (pos, 0), (neg, 0), cn, proj, crop, col=8, denoise=0.45)
    stitch_and_save(g, first, dec, crop, col=12, prefix="InstantID_detailed", color_match="lab_mean_std")
    score(g, fa, (dec, 0), col=14, identity=proj)  # the regenerated face, at full crop resolution
    g.note("Face detailer: a full-body SDXL image with InstantID, whose small face is then redone at full size. "
           "Face crop cuts the generated face out and scales it up to 1024 (the report says by how much), "
           "InstantID regenerates it at a moderate denoise (0.45: keeps the face's layout, adds detail and "
           "likeness), Face Stitch puts it back with a colour match to the first image. An image without a "
           "detectable face passes through unchanged (Face Detect 'skip image', Face crop 'pass through').\n"
           "Knobs: the second KSampler's denoise (0.3-0.55), Face crop padding and long_side, mask_grow / "
           "feather.\n\n" + models_note())


def family_photo(g):
    """Group swap by likeness: every face of the family photo is regenerated with the identity that looks most
    like it, all faces in one batch through one sampler."""
    ckpt = g.add("CheckpointLoaderSimple", col=0, ckpt_name=SDXL_MODEL["name"], models=[SDXL_MODEL])
    cn = g.add("ControlNetLoader", "IdentityNet", col=0, control_net_name=IDENTITYNET_MODEL["name"],
               models=[IDENTITYNET_MODEL])
    iid = g.add("InstantIDPrecision_ModelLoader", col=0, instantid_file=ADAPTER_MODEL["name"], models=[ADAPTER_MODEL])
    fa = g.add("InstantIDPrecision_FaceAnalysisLoader", col=0, provider="auto")
    pos = g.add("CLIPTextEncode", "Positive prompt", col=1, text=SWAP_PROMPT)
    neg = g.add("CLIPTextEncode", "Negative prompt", col=1, text=NEGATIVE)
    g.link(ckpt, 1, pos, "clip")
    g.link(ckpt, 1, neg, "clip")
    dets = [face(g, fa, f"Face photo {who}", image=image)[1]
            for who, image in (("A", example("face")), ("B", example("face_b")), ("C", example("face_2")))]
    target, group = face(g, fa, "Target photo (family)", selection="all", image=example("three_people"))
    projs = [project(g, iid, det) for det in dets]
    crop = g.add("InstantIDPrecision_GroupFaceCrop", "Group face crop", col=3, assignment="by likeness")
    g.link(target, 0, crop, "image")
    g.link(group, 0, crop, "faces")
    for n, proj in enumerate(projs):
        g.link(proj, 0, crop, f"identity_{n}")
    a = g.add("InstantIDPrecision_Apply", col=4)
    g.link(ckpt, 0, a, "model")
    g.link(pos, 0, a, "positive")
    g.link(neg, 0, a, "negative")
    g.link(cn, 0, a, "control_net")
    g.link(crop, 3, a, "identity")  # one identity per crop: latent i gets crop i's person
    g.link(crop, 2, a, "image_kps")
    inpaint = g.add("InpaintModelConditioning", col=5, level=a["pos"][1], noise_mask=True)
    g.link(a, 1, inpaint, "positive")
    g.link(a, 2, inpaint, "negative")
    g.link(ckpt, 2, inpaint, "vae")
    g.link(crop, 0, inpaint, "pixels")
    g.link(crop, 1, inpaint, "mask")
    ks = g.add("KSampler", col=6, level=a["pos"][1], seed=42, steps=30, cfg=4.5, sampler_name="dpmpp_2m",
               scheduler="karras", denoise=0.6)
    g.link(a, 0, ks, "model")
    g.link(inpaint, 0, ks, "positive")
    g.link(inpaint, 1, ks, "negative")
    g.link(inpaint, 2, ks, "latent_image")
    dec = g.add("VAEDecode", col=7, level=ks["pos"][1])
    g.link(ks, 0, dec, "samples")
    g.link(ckpt, 2, dec, "vae")
    st = g.add("InstantIDPrecision_GroupFaceStitch", col=8, level=dec["pos"][1], color_match="lab_mean_std")
    g.link(target, 0, st, "image")
    g.link(dec, 0, st, "generated")
    g.link(crop, 4, st, "crop_info")
    save = g.add("SaveImage", col=9, level=st["pos"][1], filename_prefix="InstantID_family")
    g.link(st, 0, save, "images")
    # each regenerated face (crop i) against every crop's identity: the diagonal is its own person
    sc = g.add("InstantIDPrecision_IdentityScore", col=8, face="largest")
    g.link(fa, 0, sc, "face_analysis")
    g.link(dec, 0, sc, "images")
    g.link(crop, 3, sc, "identity")
    g.note("Family photo, every face its own identity (group swap by likeness): Face Detect finds every face of "
           "'Target photo (family)', Group face crop gives each face the identity (Face photo A, B, C) that looks "
           "most like it, one to one (its report shows the cosine matrix), and cuts the faces out as ONE batch of "
           "crops. One Apply InstantID and one KSampler regenerate them all: the crop's identity output holds one "
           "person per crop, so latent i attends to crop i's own identity. Group Face Stitch puts the faces back "
           "one by one; every pixel outside the face masks stays exactly the original, and a face that got no "
           "identity (more faces than identities, or '-' in an order) is not touched. To put OTHER people into "
           "the photo, set assignment to 'order', e.g. '2,-,0'. Up to six identities: connect identity_3 and on.\n"
           "Identity Score scores each regenerated face (one row per crop) against every crop's identity: each "
           "row's highest score should be its own person's column.\n"
           "Headless: python custom_nodes/<this pack's folder> run example_workflows/instantid_family_photo.json "
           "--face a.jpg --face b.jpg --face c.jpg --target family.jpg --out family.png\n\n"
           "Knobs: KSampler denoise (0.6 keeps each face's look and light, 0.9 replaces it), Group face crop "
           "padding, long_side, mask_grow / feather; Apply InstantID ip_weight / cn_strength.\n\n" + models_note())


WORKFLOWS = {"instantid_basic_portrait": basic_portrait, "instantid_pose_from_photo": pose_from_photo,
             "instantid_manual_keypoints": manual_keypoints,
             "instantid_two_people_masks": two_people, "instantid_three_people": three_people,
             "instantid_split_second_controlnet": split_with_second_controlnet,
             "instantid_multi_reference": multi_reference, "instantid_cpu_low_vram": cpu_low_vram,
             "instantid_face_swap": face_swap, "instantid_group_photo_one_face": group_photo,
             "instantid_face_detailer": face_detailer,
             "instantid_best_of_four": best_of_four, "instantid_family_photo": family_photo}


def main():
    if cs.comfy_path() is None:
        sys.exit("set COMFYUI_PATH to a ComfyUI checkout")
    cs.bootstrap_comfy(argv=("--cpu",))
    with tempfile.TemporaryDirectory() as scratch:
        cs.set_io_dirs(scratch)  # the pack copies its example photos into the input folder: not into ComfyUI's
        assert cs.load_custom_node(str(ROOT))
        import nodes
        pack, core = pack_identity(), comfy_version()
        only = set(sys.argv[1:])  # workflow names: write only these (the others stay as they are)
        for name, build in WORKFLOWS.items():
            if only and name not in only:
                continue
            g = Graph(nodes.NODE_CLASS_MAPPINGS, pack, core)
            build(g)
            (ROOT / "example_workflows" / f"{name}.json").write_text(json.dumps(g.json(), indent=1) + "\n")
            print("wrote", name)


if __name__ == "__main__":
    main()
