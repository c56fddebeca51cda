"""cubiq's IPAdapter_plus and this pack's identity attention on the same attn2 layers, wired in either order.

Runs inside the test ComfyUI with IPAdapter_plus loaded by ComfyUI's own loader and driven through its real nodes
(IPAdapterModelLoader, IPAdapterLoadEmbeds, IPAdapterEmbeds -> its real set_model_patch_replace, Attn2Replace and
ipadapter_attention). The IPAdapter file is a basic (non-Plus) SDXL IPAdapter made for the tiny SDXL UNet: its
image projection takes EMBED_DIM-wide embeds and makes 4 tokens of 2048; its to_k_ip/to_v_ip are sized for the
tiny layers. Embeds come from .ipadpt files, so no CLIP vision model is needed.

The nodes are called directly (no prompt executor) except in the tests that queue prompts; those compare repeated
runs on one executor (its cache holding the first node's output) with a fresh executor, as a fresh server."""
import importlib
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import save_file

from instantid_testkit import direct_nodes
from instantid_testkit import comfy_support as cs
from instantid_testkit import third_party
from instantid_testkit.comfy_env import comfy_env
from instantid_testkit.prompts import full_chain

ORDERS = {"ours_then_ipadapter": ("ours", "ipadapter"), "ipadapter_then_ours": ("ipadapter", "ours")}
CONTEXT = cs.TINY_CONTEXT_DIM
EMBED_DIM = 32
IPA_FILE = "tiny_ipadapter.safetensors"
POS_EMBEDS, NEG_EMBEDS = "tiny_pos.ipadpt", "tiny_neg.ipadpt"
OUR_WEIGHT, IPA_WEIGHT = 0.8, 1.0
OUR_ATTENTION_TITLE = "Apply InstantID Attention"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return comfy_env(tmp_path_factory.mktemp("comfy"))


def write_tiny_ipadapter(path: Path, layers) -> None:
    g = torch.Generator().manual_seed(21)
    sd = {"image_proj.proj.weight": torch.randn(4 * CONTEXT, EMBED_DIM, generator=g) * 0.05,
          "image_proj.proj.bias": torch.zeros(4 * CONTEXT),
          "image_proj.norm.weight": torch.ones(CONTEXT), "image_proj.norm.bias": torch.zeros(CONTEXT)}
    hidden = {(b, i, t): h for b, i, t, h in layers}
    # IPAdapter_plus keys SDXL's middle block ("middle", 1, i); ComfyUI calls it ("middle", 0, i)
    kv = third_party.layer_kv_weights(hidden, CONTEXT, seed=22, middle_block_id=1)
    sd.update({f"ip_adapter.{k}": v for k, v in kv.items()})
    save_file(sd, str(path))


def run_node(class_type, **inputs):
    import nodes
    cls = nodes.NODE_CLASS_MAPPINGS[class_type]
    return getattr(cls(), cls.FUNCTION)(**inputs)


def our_node_id(env, title):
    """Our node's id, found by its display name (ids are not what this test is about)."""
    names = env.pack("nodes").NODE_DISPLAY_NAME_MAPPINGS
    ids = [k for k, v in names.items() if v == title]
    assert len(ids) == 1, names
    return ids[0]


@pytest.fixture(scope="module")
def ipa(env):
    path = third_party.pack_dir(third_party.IPADAPTER_PLUS)
    module = importlib.import_module(f"{third_party.load_into_comfy(path)}.IPAdapterPlus")
    folder = cs.use_model_dir(str(env.tmp / "models"), folders=("ipadapter",))["ipadapter"]
    write_tiny_ipadapter(Path(folder) / IPA_FILE, env.layers)
    import folder_paths
    g = torch.Generator().manual_seed(9)
    torch.save(torch.randn(1, EMBED_DIM, generator=g), Path(folder_paths.get_input_directory()) / POS_EMBEDS)
    torch.save(torch.randn(1, EMBED_DIM, generator=g) * 0.1, Path(folder_paths.get_input_directory()) / NEG_EMBEDS)
    with torch.inference_mode():
        return SimpleNamespace(module=module,
                               model=run_node("IPAdapterModelLoader", ipadapter_file=IPA_FILE)[0],
                               pos=run_node("IPAdapterLoadEmbeds", embeds=POS_EMBEDS)[0],
                               neg=run_node("IPAdapterLoadEmbeds", embeds=NEG_EMBEDS)[0])


@pytest.fixture(scope="module")
def chain(env):
    made = direct_nodes.direct_chain()
    return SimpleNamespace(base=made.base, pos=made.pos, neg=made.neg, identity=made.identity, faces=made.faces,
                           instantid=made.instantid, layers={(b, i, t) for b, i, t, _ in env.layers},
                           hidden={(b, i, t): h for b, i, t, h in env.layers})


def apply_ours(env, model, identity, weight=OUR_WEIGHT):
    return run_node(our_node_id(env, OUR_ATTENTION_TITLE), model=model, identity=identity, weight=weight,
                    start_at=0.0, end_at=1.0)[0]


def apply_ipadapter(ipa, model, weight=IPA_WEIGHT, start_at=0.0):
    return run_node("IPAdapterEmbeds", model=model, ipadapter=ipa.model, pos_embed=ipa.pos, neg_embed=ipa.neg,
                    weight=weight, weight_type="linear", start_at=start_at, end_at=1.0, embeds_scaling="V only")[0]


def compose(env, ipa, chain, order, ipa_start=0.0):
    """Inference mode, as ComfyUI's executor runs nodes (IPAdapter's embeds are inference tensors)."""
    model = chain.base
    with torch.inference_mode():
        for step in order:
            model = (apply_ours(env, model, chain.identity) if step == "ours"
                     else apply_ipadapter(ipa, model, start_at=ipa_start))
    return model


def installed(env, model):
    return env.pack("nodes.attention_patch").installed_patches(model)


def sample(model, chain, seed=5):
    """One euler step; returns the latent and how many times the UNet was evaluated."""
    import nodes
    counted, evaluations = model.clone(), []

    def count(apply_model, args):
        evaluations.append(1)
        return apply_model(args["input"], args["timestep"], **args["c"])

    counted.set_model_unet_function_wrapper(count)
    with torch.inference_mode():
        latent = {"samples": torch.zeros(1, 4, 8, 8)}
        out = nodes.common_ksampler(counted, seed, 1, 4.0, "euler", "normal", chain.pos, chain.neg, latent)[0]
    return out["samples"], len(evaluations)


def layer_key(extra_options):
    block = extra_options["block"]
    return (block[0], block[1], extra_options["block_index"])


@pytest.fixture
def spy(env, ipa, monkeypatch):
    """Every identity term and IPAdapter term computed, in order: (kind, layer key). IPAdapter's callback is
    replaced in its module, where set_model_patch_replace looks it up when a model is patched."""
    mod = env.pack("nodes.attention_patch")
    events, current = [], []
    original_call, original_term = mod.IdentityAttentionPatch.__call__, mod.add_identity_attention
    original_ipa = ipa.module.ipadapter_attention

    def call(self, q, k, v, extra_options):
        current.append(layer_key(extra_options))
        try:
            return original_call(self, q, k, v, extra_options)
        finally:
            current.pop()

    def identity_term(*args, **kwargs):
        events.append(("identity", current[-1]))
        return original_term(*args, **kwargs)

    def ipadapter_term(out, q, k, v, extra_options, **kwargs):
        events.append(("ipadapter", layer_key(extra_options)))
        return original_ipa(out, q, k, v, extra_options, **kwargs)

    monkeypatch.setattr(mod.IdentityAttentionPatch, "__call__", call)
    monkeypatch.setattr(mod, "add_identity_attention", identity_term)
    monkeypatch.setattr(ipa.module, "ipadapter_attention", ipadapter_term)
    return events


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_each_term_runs_once_per_layer_per_evaluation_in_wiring_order(env, ipa, chain, spy, order):
    ipadapter_keys = set(installed(env, compose(env, ipa, chain, ("ipadapter",))))
    model = compose(env, ipa, chain, order)  # ours then IPAdapter used to raise "... has no attribute 'add'"
    samples, evaluations = sample(model, chain)
    assert torch.isfinite(samples).all() and evaluations >= 1
    counts = Counter(spy)
    ipa_layers = chain.layers & ipadapter_keys
    print(f"{order}: {evaluations} evaluation(s); identity term on {len(chain.layers)} layers, IPAdapter on "
          f"{len(ipa_layers)} (its middle-block keys do not match this ComfyUI's)")
    assert ipa_layers and {key for kind, key in counts if kind == "ipadapter"} == ipa_layers
    assert {key for kind, key in counts if kind == "identity"} == chain.layers
    assert all(counts[("ipadapter", key)] == evaluations for key in ipa_layers)
    assert all(counts[("identity", key)] == evaluations for key in chain.layers)
    wired = ["identity" if step == "ours" else "ipadapter" for step in order]
    for key in ipa_layers:
        assert [kind for kind, k in spy if k == key] == wired * evaluations


def layer_inputs(chain, key, sigma, seed=0):
    hidden = chain.hidden[key]
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(2, 16, hidden, generator=g) for _ in range(3))
    opts = {"n_heads": hidden // 64, "cond_or_uncond": [1, 0], "original_shape": [1, 4, 4, 4], "block": key[:2],
            "block_index": key[2], "transformer_index": 3, "sigmas": torch.tensor([sigma])}
    return q, k, v, opts


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_each_layer_is_base_plus_ipadapter_term_plus_identity_term(env, ipa, chain, order):
    """Against a manual sum of the three parts computed separately: the layer's own attention, IPAdapter's real
    callback with the arguments IPAdapter itself recorded, and the core identity term. IPAdapter acts from 50 %
    of sampling on, so early sigmas must show no IPAdapter term whichever patch holds it."""
    from comfy.ldm.modules.attention import optimized_attention
    core = env.pack("instantid_core.compute.identity_attention")
    sampling = chain.base.get_model_object("model_sampling")
    ours_alone = installed(env, compose(env, ipa, chain, ("ours",)))
    ipa_alone = installed(env, compose(env, ipa, chain, ("ipadapter",), ipa_start=0.5))
    both = installed(env, compose(env, ipa, chain, order, ipa_start=0.5))
    for key in (("input", 7, 1), ("output", 3, 0)):
        for percent, ipadapter_on in ((0.2, False), (0.8, True)):
            q, k, v, opts = layer_inputs(chain, key, float(sampling.percent_to_sigma(percent)))
            with torch.inference_mode():
                got = both[key](q, k, v, opts)
                base = optimized_attention(q, k, v, opts["n_heads"])
                ip_term = ipa.module.ipadapter_attention(base, q, k, v, opts, **ipa_alone[key].kwargs[0])
                layer_kv = chain.identity.kv.get(ours_alone[key].weight_key, q.device, torch.float32)
                id_term = core.add_identity_attention(torch.zeros_like(base), q, layer_kv, opts["n_heads"],
                                                      OUR_WEIGHT, opts["cond_or_uncond"])
            want = base + id_term + (ip_term if ipadapter_on else 0)
            err = (got - want).abs().max().item()
            print(f"{order} {key} at {percent:.0%}: |base| {base.abs().max():.3f} |ipadapter| "
                  f"{ip_term.abs().max():.3f} |identity| {id_term.abs().max():.3f} max error {err:.2e}")
            assert ip_term.abs().max() > 0.05 and id_term.abs().max() > 0.05  # neither term negligible
            assert torch.allclose(got, want, atol=1e-5, rtol=1e-5), err


def test_sampling_gives_the_same_latent_in_either_order(env, ipa, chain):
    results = {name: sample(compose(env, ipa, chain, order), chain)[0] for name, order in
               {**ORDERS, "ours": ("ours",), "ipadapter": ("ipadapter",), "neither": ()}.items()}
    a, b = results["ours_then_ipadapter"], results["ipadapter_then_ours"]
    print(f"max |ours->IPAdapter - IPAdapter->ours| {(a - b).abs().max():.2e}; vs ours alone "
          f"{(a - results['ours']).abs().max():.3f}, vs IPAdapter alone {(a - results['ipadapter']).abs().max():.3f}")
    scale = a.abs().max().item()  # the tiny random UNet's latents are in the hundreds
    assert (a - b).abs().max() <= 1e-5 * scale  # the same sum, added in another order
    for alone in ("ours", "ipadapter", "neither"):
        assert (a - results[alone]).abs().max() > 1e-2 * scale


def test_no_model_is_changed_by_what_is_wired_after_it(env, ipa, chain):
    before = dict(chain.base.model_options.get("transformer_options", {}))
    ours = compose(env, ipa, chain, ("ours",))
    ours_patches = installed(env, ours)
    with torch.inference_mode():
        strong, weak = apply_ipadapter(ipa, ours, weight=1.0), apply_ipadapter(ipa, ours, weight=0.3)
    assert installed(env, ours) == ours_patches and all(p.added == () for p in ours_patches.values())
    ipa_layers = chain.layers & set(installed(env, compose(env, ipa, chain, ("ipadapter",))))
    for key in chain.layers:
        s, w = installed(env, strong)[key], installed(env, weak)[key]
        want = ([1.0], [0.3]) if key in ipa_layers else ([], [])
        assert ([kw["weight"] for _, kw in s.added], [kw["weight"] for _, kw in w.added]) == want
        assert s.identity is w.identity is ours_patches[key].identity  # one identity, one K/V cache
    ipa_first = compose(env, ipa, chain, ("ipadapter",))
    callbacks = {k: list(p.callback) for k, p in installed(env, ipa_first).items()}
    with torch.inference_mode():
        apply_ours(env, ipa_first, chain.identity), apply_ours(env, ipa_first, chain.identity, weight=0.4)
    assert {k: list(p.callback) for k, p in installed(env, ipa_first).items()} == callbacks
    assert all(len(c) == 1 for c in callbacks.values())
    assert chain.base.model_options.get("transformer_options", {}) == before
    assert "patches_replace" not in before


def test_offload_releases_every_identity_in_a_chain(env, ipa, chain):
    """ComfyUI moves only the outermost patch of a layer; an identity wrapped by another must be released too."""
    second = direct_nodes.run_node("InstantIDPrecision_ImageProjection", instantid=chain.instantid, faces=chain.faces,
                                   combine="average", negative_noise=0.05, seed=0)[0]  # a second identity
    assert second is not chain.identity
    model = compose(env, ipa, chain, ("ours", "ipadapter"))
    with torch.inference_mode():
        model = apply_ours(env, model, second)
    for identity in (chain.identity, second):
        identity.kv.get(1, "cpu", torch.bfloat16)  # the kind of copy a GPU run makes
        assert identity.kv.cached_nbytes() > 0
    model.model_patches_to(torch.device("cpu"))
    assert chain.identity.kv.cached_nbytes() == 0 and second.kv.cached_nbytes() == 0


def both_packs_prompt(env, order, ipa_weight=IPA_WEIGHT, our_weight=OUR_WEIGHT):
    p = full_chain(seed=8, steps=1)
    for unused in ("apply", "cn"):
        del p[unused]
    p["ipam"] = {"class_type": "IPAdapterModelLoader", "inputs": {"ipadapter_file": IPA_FILE}}
    p["pe"] = {"class_type": "IPAdapterLoadEmbeds", "inputs": {"embeds": POS_EMBEDS}}
    p["ne"] = {"class_type": "IPAdapterLoadEmbeds", "inputs": {"embeds": NEG_EMBEDS}}
    nodes = {"ours": {"class_type": our_node_id(env, OUR_ATTENTION_TITLE),
                      "inputs": {"identity": ["proj", 0], "weight": our_weight, "start_at": 0.0, "end_at": 1.0}},
             "ipadapter": {"class_type": "IPAdapterEmbeds",
                           "inputs": {"ipadapter": ["ipam", 0], "pos_embed": ["pe", 0], "neg_embed": ["ne", 0],
                                      "weight": ipa_weight, "weight_type": "linear", "start_at": 0.0, "end_at": 1.0,
                                      "embeds_scaling": "V only"}}}
    source = ["ckpt", 0]
    for step in order:
        p[step] = {**nodes[step], "inputs": {**nodes[step]["inputs"], "model": source}}
        source = [step, 0]
    p["ks"]["inputs"].update(model=source, positive=["pos", 0], negative=["neg", 0])
    return p


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_a_prompt_with_both_packs_runs_in_either_order(env, ipa, order):
    """The same graph as a user wires it, validated and executed by ComfyUI's executor."""
    result = cs.run_prompt(both_packs_prompt(env, order))
    assert {"ours", "ipadapter", "ks"} <= set(result.executed) | set(result.cached)
    assert torch.isfinite(result.output("dec")).all()


# --- re-runs with another weight equal a fresh run (ComfyUI PR #12382 shares patch objects between clones) -----
RERUN_WEIGHTS = {"ipadapter": (1.0, 0.6, 0.3), "ours": (0.8, 0.5, 0.3)}


def layer_terms(env, model):
    return direct_nodes.layer_terms(env.pack("nodes.attention_patch"), model)


def rerun(env, ipa, chain, order, weight, first=None):
    """``order``'s second node on ``first`` (the first node's output, made once) with ``weight``."""
    with torch.inference_mode():
        if first is None:
            first = compose(env, ipa, chain, order[:1])
        second = (apply_ours(env, first, chain.identity, weight) if order[1] == "ours"
                  else apply_ipadapter(ipa, first, weight=weight))
    return first, second


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_rerunning_the_second_pack_with_new_weights_equals_a_fresh_run(env, ipa, chain, order):
    """(b) with the real IPAdapter_plus, at the level of ComfyUI's objects: the first node's output is made once
    (as the executor caches it), the second node re-runs on it with three weights; terms per layer and the
    latent of the last run equal the same two nodes run fresh, and the first output keeps only its own terms."""
    weights = RERUN_WEIGHTS[order[1]]
    first, _ = rerun(env, ipa, chain, order, weights[0])
    first_terms = layer_terms(env, first)
    runs = [(layer_terms(env, m), sample(m, chain)[0]) for m in (rerun(env, ipa, chain, order, w, first)[1]
                                                                for w in weights)]
    _, fresh = rerun(env, ipa, chain, order, weights[-1])
    fresh_terms = layer_terms(env, fresh)
    assert runs[-1][0] == fresh_terms
    ipa_layers = chain.layers & set(installed(env, compose(env, ipa, chain, ("ipadapter",))))
    assert ipa_layers  # (IPAdapter_plus's middle-block keys miss this ComfyUI's: those layers get no term)
    assert {k: fresh_terms[k] for k in chain.layers} == {k: (1, int(k in ipa_layers)) for k in chain.layers}
    assert layer_terms(env, first) == first_terms
    assert not torch.equal(runs[0][1], runs[-1][1])
    assert torch.equal(runs[-1][1], sample(fresh, chain)[0])


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_requeued_prompts_with_both_packs_equal_a_fresh_server(env, ipa, order):
    """(b) as queued prompts: the same prompt three times, only the second node's weight changed, then the last
    prompt on a fresh executor (empty cache): same terms on every layer, same image."""
    runner = cs.PromptRunner()
    vary = order[1]

    def prompt(w):
        return both_packs_prompt(env, order, **({"ipa_weight": w} if vary == "ipadapter" else {"our_weight": w}))

    results = [cs.run_prompt(prompt(w), runner=runner) for w in RERUN_WEIGHTS[vary]]
    assert order[0] in results[-1].cached and vary in results[-1].executed
    fresh = cs.run_prompt(prompt(RERUN_WEIGHTS[vary][-1]), runner=cs.PromptRunner())
    last = results[-1]
    assert layer_terms(env, last.output(vary)) == layer_terms(env, fresh.output(vary))
    assert layer_terms(env, last.output(order[0])) == layer_terms(env, fresh.output(order[0]))
    assert not torch.equal(results[0].output("dec"), last.output("dec"))
    assert torch.equal(last.output("dec"), fresh.output("dec"))
