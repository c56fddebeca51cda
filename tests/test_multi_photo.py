"""The official multi-photo mode: InstantX's pipeline feeds all N reference embeddings to the resampler as ONE
sequence ([1, N, 512] -> 16 tokens), positive and negative (zeros of the same shape) alike."""
import torch

from instantid_testkit.adapter_fixtures import REAL, image_proj_state
from instantid_core.compute.identity import COMBINE_MODES, combine_embeddings, project_identity
from instantid_core.compute.instantid_model import InstantIDModel
from instantid_core.compute.resampler import ResamplerConfig
from instantid_testkit.reference_math import resampler_f64


def _model(sd):
    config = ResamplerConfig.from_state_dict(sd)
    with torch.device("meta"):
        model = InstantIDModel(config, {})
    model.image_proj.load_state_dict(sd, assign=True)
    return model.eval()


def test_instantx_multi_photo_is_one_sequence_and_matches_the_published_math():
    sd = image_proj_state(**REAL, seed=11)
    photos = torch.randn(3, 512, generator=torch.Generator().manual_seed(2)) * 20  # raw ArcFace norm ~ 20
    model = _model(sd)
    combined = combine_embeddings(photos, "instantx_multi_photo")
    assert combined.shape == (1, 3, 512)
    tokens = project_identity(model, combined, torch.device("cpu"), torch.float32)
    assert tokens.cond.shape == tokens.uncond.shape == (1, 16, 2048)
    ref_cond = resampler_f64(sd, photos.unsqueeze(0))
    ref_uncond = resampler_f64(sd, torch.zeros(1, 3, 512))
    err = max((tokens.cond.double() - ref_cond).abs().max().item(),
              (tokens.uncond.double() - ref_uncond).abs().max().item())
    average = project_identity(model, combine_embeddings(photos, "average"), torch.device("cpu"), torch.float32)
    apart = (average.cond.double() - ref_cond).abs().max().item()
    print(f"instantx_multi_photo vs float64 reference: max abs err {err:.2e}; 'average' differs by {apart:.3f}")
    assert err <= 1e-5
    assert apart > 1e-2  # a different operation, not a renamed average


def test_one_photo_gives_the_same_identity_in_every_mode():
    sd = image_proj_state(**REAL, seed=12)
    model = _model(sd)
    photo = torch.randn(1, 512, generator=torch.Generator().manual_seed(3)) * 20
    first = None
    for mode in COMBINE_MODES:
        tokens = project_identity(model, combine_embeddings(photo, mode), torch.device("cpu"), torch.float32)
        if first is None:
            first = tokens
        assert torch.allclose(tokens.cond, first.cond, atol=1e-5) and torch.allclose(tokens.uncond, first.uncond,
                                                                                       atol=1e-5), mode
