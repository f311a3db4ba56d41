"""The candidates the model card compares and the configurations that won (``moodtagger eval``
re-runs the candidates, ``moodtagger train`` fits the chosen ones)."""

from __future__ import annotations

from dataclasses import dataclass

# L2 strengths tried by the inner CV, per head (index i of both grids is fitted in the same pass)
POL_LAMBDAS = (0.1, 0.3, 1.0, 3.0)
MOOD_LAMBDAS = (0.1, 0.3, 1.0, 3.0)


@dataclass(frozen=True)
class HeadConfig:
    """One candidate; ``name`` is what the tables print."""

    name: str
    variant: str = "lite0"
    parts: tuple[str, ...] = ("final", "stages")
    hidden: int = 0
    weight_decay: float = 1e-2
    epochs: int = 60
    lr: float = 1e-3
    dropout: float = 0.5
    class_weight: bool = True
    train_views: tuple[int, ...] = (0, 1, 2)  # which views augment training
    test_views: tuple[int, ...] = (0, 1)  # test-time augmentation
    emotion6: float = 0.0  # weight of Emotion6 images (negative classes) as extra training data
    seeds: int = 1  # ensemble of seeds (averaged probabilities)

    def as_dict(self) -> dict[str, object]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class V2Config:
    """One v2 candidate (``name`` is what tables print)."""

    name: str = "v2: multi-task linear heads, polarity x within-polarity moods"
    parts: tuple[str, ...] = ("final", "stages")
    flip_tta: bool = True  # descriptor = mean of center and mirrored crop (else center only)
    augment_full: bool = False  # also train on the whole frame squashed to a square
    e6_mood_weight: float = 0.5  # Emotion6 negative vote shares in the mood head (0 = off)
    factorised: bool = True  # False: the 8-way head alone (no polarity head) for comparison
    pol_lambdas: tuple[float, ...] = POL_LAMBDAS
    mood_lambdas: tuple[float, ...] = MOOD_LAMBDAS
    inner_folds: int = 3
    # heads are fitted in the top principal components of the standardised training descriptors
    # (computed on the training part only; the weights are mapped back to all 2,848 inputs):
    # ~10x cheaper fits, which is what makes nested CV affordable on a CPU
    pca_dim: int = 256
    # total weight of each data set (ArtPhoto, Twitter I, Emotion6) in the polarity head: everyday
    # photos (Twitter) get half, the two others a quarter each (so Emotion6's 1,980 photos do not
    # drown ArtPhoto's 646). None: one per photo.
    pol_shares: tuple[float, float, float] | None = (0.5, 1.0, 0.5)
    # optional MLP mood head (within-polarity part used, like the linear one): hidden units (0 =
    # linear only), ensemble members (seeds), and the weight(s) of its logits against the linear
    # head's; several weights -> chosen by the inner CV (class-weighted log-loss)
    mlp_hidden: int = 0
    mlp_members: int = 1
    mlp_mix: tuple[float, ...] = (1.0,)
    mlp_epochs: int = 60
    mlp_weight_decay: float = 1e-2
    mlp_dropout: float = 0.5
    mlp_full_view: bool = True  # the whole-frame view as extra training rows of the MLP
    mlp_e6_weight: float | None = (
        None  # Emotion6 negatives in the MLP's rows (None: e6_mood_weight)
    )
    # MLP input: the principal components whitened one by one (True), or all divided by one
    # common scale (False: keeps the standardised descriptor's geometry, as v1's MLP saw it)
    mlp_whiten: bool = False
    mlp_pca: bool = True  # False: the MLP sees the whole standardised descriptor (v1's MLP input)
    # v3 (moodtagger.training.multitask_v3): strength of the everyday prior correction of the
    # within-polarity mood logits (0 = off, 1 = the full correction) ...
    everyday_prior: float = 0.0
    # ... and valence = a * polarity logit + ridge(descriptor) on Emotion6 + Twitter I (weight
    # of Twitter I's weak ordinal target relative to Emotion6; ridge alpha in the PCs)
    valence_from_polarity: bool = False
    valence_tw_weight: float = 0.1
    valence_alpha: float = 10000.0
    # v4 (moodtagger.training.multitask_v4; v3's moods untouched): valence = a * polarity logit
    # + c * P(positive) + the 8 mood log-probabilities + ridge(descriptor), Twitter I with its own
    # intercept and target 5 + spread * (share - 1/2), total weight valence_v4_tw_weight of
    # Emotion6's (ridge alpha: valence_alpha)
    valence_v4: bool = False
    valence_v4_spread: float = 8.0
    valence_v4_tw_weight: float = 0.3

    @property
    def v3(self) -> bool:
        return bool(self.everyday_prior or self.valence_from_polarity)

    @property
    def train_views(self) -> tuple[int, ...]:
        return (0, 1) if self.augment_full else (0,)

    @property
    def test_views(self) -> tuple[int, ...]:
        return (0,)

    def as_dict(self) -> dict[str, object]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


# The configuration that won 5-fold cross-validation on ArtPhoto (see MODEL_CARD.md for the
# candidates and their scores). Change it only with a new cross-validation table.
CHOSEN = HeadConfig(
    "MLP256 on lite0 final+stage pools, flip TTA",
    variant="lite0",
    parts=("final", "stages"),
    hidden=256,
)
# Every candidate in the model card's table (``moodtagger eval --all`` re-runs them).
CANDIDATES = (
    HeadConfig("logistic on lite0 final pool, flip TTA", parts=("final",)),
    HeadConfig("logistic on lite0 final+stage pools, no TTA", train_views=(0,), test_views=(0,)),
    HeadConfig("logistic on lite0 final+stage pools, flip TTA"),
    HeadConfig("logistic, no class weighting", class_weight=False),
    HeadConfig("logistic on lite2 final+stage pools, flip TTA", variant="lite2"),
    HeadConfig("logistic on lite0+lite2 pools, flip TTA", variant="lite0+lite2"),
    HeadConfig("MLP256 on lite0 pools + Emotion6 negatives (w 0.5)", hidden=256, emotion6=0.5),
    HeadConfig("MLP256 on lite2 final+stage pools, flip TTA", variant="lite2", hidden=256),
    CHOSEN,
)


# v3 (shipped): v2's fit + the everyday prior correction + valence from polarity and descriptor
V3_CONFIG = V2Config(
    "v3: v2 + everyday prior correction + valence from polarity",
    everyday_prior=1.0,
    valence_from_polarity=True,
)

# v4 (shipped, the default): v3's moods and polarity exactly, valence refitted (ROUNDS.md round 7)
V4_CONFIG = V2Config(
    "v4: v3 + valence from polarity, P(positive), mood log-probabilities",
    everyday_prior=1.0,
    valence_from_polarity=True,
    valence_v4=True,
)


def _v2_candidates():
    base = V2Config("v2: multi-task linear heads (previous default)")
    return (
        V4_CONFIG,  # shipped
        base,
        V3_CONFIG,
        V2Config("v2, no flip TTA (center crop only)", flip_tta=False),
        V2Config("v2, equal polarity shares per data set", pol_shares=(1.0, 1.0, 1.0)),
        V2Config("v2, one polarity weight per photo", pol_shares=None),
        V2Config("v2 without Emotion6 in the mood head", e6_mood_weight=0.0),
        V2Config("v2, 512 principal components", pca_dim=512),
        V2Config("8-way head only (positive share = polarity)", factorised=False),
        # round 2 (MLP within-polarity mood heads under v2's polarity; model card "round 2")
        V2Config("v2 + MLP256 mood head in whitened PCs", mlp_hidden=256, mlp_whiten=True),
        V2Config("v2 + MLP256 mood head in PCs (one scale)", mlp_hidden=256),
        V2Config("v2 + MLP256 in PCs, ArtPhoto only", mlp_hidden=256, mlp_e6_weight=0.0),
        V2Config(
            "v2 + MLP256 on the whole descriptor, ArtPhoto only",
            mlp_hidden=256,
            mlp_e6_weight=0.0,
            mlp_pca=False,
        ),
    )


V2_CANDIDATES = _v2_candidates()
