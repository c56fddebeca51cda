"""Patches that stay put when ComfyUI shares patch objects between clones (ComfyUI PR #12382: since 2026
``ModelPatcher.clone()`` copies the dicts of model_options but not the patch objects in them).

A pack wired after our Apply node that chains the way IPAdapter_plus does (clone, take the layer's attn2 patch,
``.add(...)``, keep no return value) must change only its own clone: re-running it with another weight, as a
re-queued prompt does with our output cached, must give what a fresh run gives. Checked twice: with ComfyUI's
objects directly (ModelPatcher clones and nodes.common_ksampler; needs no prompt executor), and as queued prompts
through the pack's in-process executor, with a fresh executor (empty cache, as a fresh server) as the reference.
The chaining pack is tests/instantid_testkit/chaining_stand_in.py; the same checks with the real IPAdapter_plus are in
test_ipadapter_composition.py."""
from pathlib import Path

import pytest
import torch

from instantid_testkit import direct_nodes
from instantid_testkit.direct_nodes import PREFIX, direct_chain, run_node, sample
from instantid_testkit import comfy_support as cs
from instantid_testkit.comfy_env import comfy_env
from instantid_testkit.prompts import full_chain

STAND_IN = Path(__file__).resolve().parent / "instantid_testkit" / "chaining_stand_in.py"
WEIGHTS = (1.0, 0.5, 0.25)  # the chaining node's weight on each re-run; the last one is also run fresh
OUR_WEIGHTS = (0.8, 0.5, 0.3)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy"))
    import nodes
    if "ChainingStandIn" not in nodes.NODE_CLASS_MAPPINGS:
        assert cs.load_custom_node(str(STAND_IN)), "ComfyUI failed to import the chaining stand-in"
    return env


@pytest.fixture(scope="module")
def chain(env):
    return direct_chain()


def layer_terms(env, model) -> dict:
    return direct_nodes.layer_terms(env.pack("nodes.attention_patch"), model)


def apply_ours(model, identity, weight=0.8):
    return run_node(PREFIX + "ApplyAttention", model=model, identity=identity, weight=weight, start_at=0.0,
                    end_at=1.0)[0]


def chain_after(model, weight):
    return run_node("ChainingStandIn", model=model, weight=weight)[0]


def test_add_on_any_clone_changes_only_that_clone(env, chain):
    ours = apply_ours(chain.base, chain.identity)
    before = {key: p for key, p in env.pack("nodes.attention_patch").installed_patches(ours).items()}

    def add(model, weight):
        for patch in env.pack("nodes.attention_patch").installed_patches(model).values():
            patch.add(lambda out, *a, **k: out, weight=weight)
        return model

    first, second = add(ours.clone(), 1.0), add(ours.clone(), 0.5)
    grandchild = add(first.clone(), 0.25)  # a clone of a chained model keeps that model's terms
    after = env.pack("nodes.attention_patch").installed_patches(ours)
    assert after == before and all(p.added == () for p in after.values())
    for model, weights in ((first, [1.0]), (second, [0.5]), (grandchild, [1.0, 0.25])):
        for key, patch in env.pack("nodes.attention_patch").installed_patches(model).items():
            assert [kw["weight"] for _, kw in patch.added] == weights, key
            assert patch.identity is before[key].identity  # one identity, one K/V cache for every copy


def test_rechaining_with_new_weights_equals_a_fresh_run(env, chain):
    """(a) at the level of ComfyUI's objects: our output is made once (as the executor caches it) and the
    chaining node re-runs on it with three weights; the last result must equal the same chain built fresh, and
    our output must sample afterwards exactly as a fresh copy of it does (no terms left behind)."""
    ours = apply_ours(chain.base, chain.identity)
    runs = []
    for weight in WEIGHTS:
        chained = chain_after(ours, weight)
        runs.append((layer_terms(env, chained), sample(chained, chain.pos, chain.neg)))
    fresh_ours = apply_ours(chain.base, chain.identity)
    fresh_chained = chain_after(fresh_ours, WEIGHTS[-1])
    fresh_terms, fresh_latent = layer_terms(env, fresh_chained), sample(fresh_chained, chain.pos, chain.neg)
    assert set(fresh_terms.values()) == {(1, 1)} and len(fresh_terms) == len(env.layers)
    assert runs[-1][0] == fresh_terms
    assert not torch.equal(runs[0][1], runs[-1][1])  # the weight shows in the latent
    assert torch.equal(runs[-1][1], fresh_latent)
    assert set(layer_terms(env, ours).values()) == {(1, 0)}
    assert torch.equal(sample(ours, chain.pos, chain.neg), sample(fresh_ours, chain.pos, chain.neg))


def test_our_node_rerun_after_a_chaining_pack_equals_a_fresh_run(env, chain):
    """(c) our node after the other pack: the other pack's output is made once, ours re-runs on it with three
    weights; the other pack's patch must keep its one term and the last result equal a fresh chain."""
    theirs = chain_after(chain.base, 1.0)
    runs = [(layer_terms(env, m), sample(m, chain.pos, chain.neg))
            for m in (apply_ours(theirs, chain.identity, w) for w in OUR_WEIGHTS)]
    fresh = apply_ours(chain_after(chain.base, 1.0), chain.identity, OUR_WEIGHTS[-1])
    assert set(layer_terms(env, theirs).values()) == {(0, 1)}
    assert runs[-1][0] == layer_terms(env, fresh) and set(runs[-1][0].values()) == {(1, 1)}
    assert not torch.equal(runs[0][1], runs[-1][1])
    assert torch.equal(runs[-1][1], sample(fresh, chain.pos, chain.neg))


def test_moving_a_shared_patch_to_a_device_edits_nothing_shared(env, chain):
    """ComfyUI's model_patches_to() sets ``patch.to(device)`` back into the moving model's own dict: when the
    wrapped patch moves to a new object, ours answers with a new object too, and the shared one keeps its own."""
    ours = env.pack("nodes.attention_patch")

    class Moving:
        def to(self, device):
            return Moving()

    patch = ours.IdentityAttentionPatch(chain.identity, 1, 0.8, None, None, previous=Moving())
    wrapped = patch.previous
    moved = patch.to(torch.device("cpu"))
    assert patch.previous is wrapped and moved is not patch and isinstance(moved.previous, Moving)
    still = ours.IdentityAttentionPatch(chain.identity, 1, 0.8, None, None, previous=None)
    assert still.to(torch.device("cpu")) is still


def chained_prompt(weight, order=("ours", "chaining"), our_weight=0.8):
    p = full_chain(seed=8, steps=1)
    for unused in ("apply", "cn"):
        del p[unused]
    steps = {"ours": {"class_type": PREFIX + "ApplyAttention",
                      "inputs": {"identity": ["proj", 0], "weight": our_weight, "start_at": 0.0, "end_at": 1.0}},
             "chaining": {"class_type": "ChainingStandIn", "inputs": {"weight": weight}}}
    source = ["ckpt", 0]
    for step in order:
        p[step] = {**steps[step], "inputs": {**steps[step]["inputs"], "model": source}}
        source = [step, 0]
    p["ks"]["inputs"].update(model=source, positive=["pos", 0], negative=["neg", 0])
    return p


@pytest.mark.parametrize("order", [("ours", "chaining"), ("chaining", "ours")], ids=["ours_first", "ours_last"])
def test_requeued_prompts_equal_a_fresh_server(env, order):
    """(a) and (c) as a user queues them: the same prompt three times, only the second node's weight changed
    (the first node's output comes from the executor's cache), then the last prompt on a fresh executor."""
    runner = cs.PromptRunner()
    vary = order[-1]

    def prompt(w):
        return chained_prompt(w, order) if vary == "chaining" else chained_prompt(1.0, order, our_weight=w)

    weights = WEIGHTS if vary == "chaining" else OUR_WEIGHTS
    results = [cs.run_prompt(prompt(w), runner=runner) for w in weights]
    assert order[0] in results[-1].cached and vary in results[-1].executed
    fresh = cs.run_prompt(prompt(weights[-1]), runner=cs.PromptRunner())
    assert order[0] in fresh.executed
    last = results[-1]
    assert layer_terms(env, last.output(vary)) == layer_terms(env, fresh.output(vary))
    assert set(layer_terms(env, fresh.output(vary)).values()) == {(1, 1)}
    assert set(layer_terms(env, last.output(order[0])).values()) == ({(1, 0)} if order[0] == "ours" else {(0, 1)})
    assert not torch.equal(results[0].output("dec"), last.output("dec"))
    assert torch.equal(last.output("dec"), fresh.output("dec"))
