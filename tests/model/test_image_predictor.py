"""Image mode against the reference's prompt encoder + mask decoder on the same image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from etam_plugin.model import ImagePredictor, ModelError, build_model, get_config
from etam_plugin.model.preprocess import to_model_input
from tests.reference import build_reference_model, shaped_random_state_dict

TOL = 1e-3


@pytest.fixture(scope="module")
def setup(jpeg_clip):
    _, frames = jpeg_clip
    config = get_config("ti_512x512")
    sd = shaped_random_state_dict(config, seed=21)
    ours, ref = build_model(config), build_reference_model(config)
    ours.load_state_dict(sd)
    ref.load_state_dict(sd)
    predictor = ImagePredictor(ours)
    predictor.set_image(frames[0])
    return frames[0], predictor, ref, config


def _reference(ref, config, image, points, labels, mask=None, multimask=True):
    """What the reference's image predictor computes (its torchvision transforms are not
    installable here, so the same steps are spelled out on its modules)."""
    h, w = image.shape[:2]
    with torch.inference_mode():
        x = to_model_input(image, config.image_size)[None]
        feats = ref.image_encoder(x)["vision_features"] + ref.no_mem_embed.view(1, -1, 1, 1)
        pts = (
            torch.tensor(points, dtype=torch.float32)[None]
            / torch.tensor([w, h])
            * config.image_size
        )
        sparse, dense = ref.sam_prompt_encoder(
            points=(pts, torch.tensor(labels, dtype=torch.int32)[None]), boxes=None, masks=mask
        )
        low, iou, _, _ = ref.sam_mask_decoder(
            image_embeddings=feats,
            image_pe=ref.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask,
            repeat_image=False,
        )
        full = F.interpolate(low, (h, w), mode="bilinear", align_corners=False)
    return full[0].numpy(), iou[0].numpy(), low.clamp(-32, 32)


@pytest.mark.parity
def test_click_multimask_and_refinement_match_reference(setup) -> None:
    image, predictor, ref, config = setup
    first = predictor.predict(np.array([[150.0, 90.0]]), np.array([1]))
    ref_logits, ref_iou, ref_low = _reference(ref, config, image, [[150.0, 90.0]], [1])
    assert first.masks.shape == (3, *image.shape[:2])
    assert np.abs(first.logits - ref_logits).max() <= TOL
    assert np.abs(first.scores - ref_iou).max() <= TOL
    assert 0.005 < first.masks[int(first.scores.argmax())].mean() < 0.995

    best = int(first.scores.argmax())
    second = predictor.predict(
        np.array([[150.0, 90.0], [100.0, 40.0]]),
        np.array([1, 0]),
        mask_logits=first.low_res_logits[best : best + 1],
        multimask=False,
    )
    ref2, _, _ = _reference(
        ref,
        config,
        image,
        [[150.0, 90.0], [100.0, 40.0]],
        [1, 0],
        mask=ref_low[:, best : best + 1],
        multimask=False,
    )
    assert np.abs(second.logits - ref2).max() <= TOL


@pytest.mark.parity
def test_box_matches_reference(setup) -> None:
    image, predictor, ref, config = setup
    out = predictor.predict(box_xyxy=(90.0, 20.0, 230.0, 175.0), multimask=False)
    ref_logits, _, _ = _reference(
        ref, config, image, [[90.0, 20.0], [230.0, 175.0]], [2, 3], multimask=False
    )
    assert np.abs(out.logits - ref_logits).max() <= TOL


def test_prompt_errors_are_specific(setup) -> None:
    _, predictor, _, _ = setup
    with pytest.raises(ModelError, match="label"):
        predictor.predict(np.array([[1.0, 2.0]]), np.array([1, 0]))
    with pytest.raises(ModelError, match="empty"):
        predictor.predict()
