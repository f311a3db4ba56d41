"""The three data sets of mood model v2 as feature arrays: ArtPhoto (8 moods), Twitter I
(polarity) and Emotion6 (valence/arousal, votes), and their folds (duplicates inside one fold).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodtagger.core.moods import MOODS, POSITIVE
from moodtagger.training import datasets
from moodtagger.training.features import load_features

POS_IDX = [MOODS.index(m) for m in POSITIVE]
NEG_IDX = [i for i in range(len(MOODS)) if i not in POS_IDX]


@dataclass
class Split:
    """Feature arrays (n, views, d) and targets of the three data sets (or subsets of them)."""

    ap_x: np.ndarray
    ap_y: np.ndarray
    tw_x: np.ndarray
    tw_pos: np.ndarray
    tw_agree: np.ndarray
    e6_x: np.ndarray
    e6_va: np.ndarray  # (n, 2) valence, arousal
    e6_votes: np.ndarray  # (n, 7)
    # unlabelled everyday photos (the ImageNet sample): only v3's everyday prior correction
    # sees them; None where not loaded
    in_x: np.ndarray | None = None

    def subset(
        self, ap: np.ndarray, tw: np.ndarray, e6: np.ndarray, inet: np.ndarray | None = None
    ) -> Split:
        in_x = self.in_x
        if in_x is not None and inet is not None:
            in_x = in_x[inet]
        return Split(
            self.ap_x[ap],
            self.ap_y[ap],
            self.tw_x[tw],
            self.tw_pos[tw],
            self.tw_agree[tw],
            self.e6_x[e6],
            self.e6_va[e6],
            self.e6_votes[e6],
            in_x,
        )


@dataclass
class Folds:
    ap: np.ndarray
    tw: np.ndarray
    e6: np.ndarray


@dataclass
class AllData:
    split: Split
    ap_groups: np.ndarray
    tw_groups: np.ndarray


def descriptor_views(x: np.ndarray, flip_tta: bool) -> np.ndarray:
    """(n, 3 cached views, d) -> (n, 2, d): [the inference descriptor (center, or the mean of
    center and mirror with flip TTA), the whole-frame view (training augmentation only)]."""
    first = x[:, :2].mean(1) if flip_tta else x[:, 0]
    return np.stack([first, x[:, 2]], 1).astype(np.float32)


def load_all(
    parts: tuple[str, ...] = ("final", "stages"),
    variant: str = "lite0",
    *,
    flip_tta: bool = True,
    raw: bool = False,
    everyday: bool = False,
) -> AllData:
    """All three data sets' features; ``raw``: the cached (center, flip, full) views as they are;
    ``everyday``: also the ImageNet sample's (unlabelled, ``split.in_x``; v3's prior correction)."""

    def feats(files):
        x = load_features(files, variant, parts)
        return x if raw else descriptor_views(x, flip_tta)

    data = assemble(feats)
    if everyday:
        data.split.in_x = feats(datasets.load_imagenet_sample())
    return data


def assemble(feats: Callable[[list[Path]], np.ndarray]) -> AllData:
    """ArtPhoto, Twitter I and Emotion6 with their labels, each photo's features from
    ``feats(files)`` (the training features; ``experiments/exp_int8.py``: an ONNX file's)."""
    ap = datasets.load_artphoto()
    tw = datasets.load_twitter1()
    e6 = datasets.load_emotion6()
    split = Split(
        feats(ap.files),
        ap.labels,
        feats(tw.files),
        tw.positive,
        tw.agreement,
        feats(e6.files),
        np.stack([e6.valence, e6.arousal], 1),
        e6.votes,
    )
    return AllData(split, ap.groups, tw.groups)


def make_folds(ap_y, ap_groups, tw_pos, tw_agree, tw_groups, n_e6: int, k: int, seed: int) -> Folds:
    """Fold per photo for each data set: stratified, duplicate groups (DUPLICATES.txt) inside one
    fold. ArtPhoto by mood, Twitter by polarity x agreement, Emotion6 by valence quintile."""
    ap = datasets.stratified_group_folds(ap_y, ap_groups, k=k, seed=seed)
    tw = datasets.stratified_group_folds(tw_pos * 10 + tw_agree, tw_groups, k=k, seed=seed)
    rng = np.random.default_rng(seed)
    e6 = np.empty(n_e6, dtype=int)
    e6[rng.permutation(n_e6)] = np.arange(n_e6) % k
    return Folds(ap, tw, e6)


def inet_folds(n: int, k: int, seed: int) -> np.ndarray:
    """Fold per ImageNet-sample photo (random, like Emotion6's; its own stream of ``seed``)."""
    rng = np.random.default_rng(seed + 7919)
    f = np.empty(n, dtype=int)
    f[rng.permutation(n)] = np.arange(n) % k
    return f


def view_mean(x: np.ndarray, views: tuple[int, ...]) -> np.ndarray:
    """The descriptor a head sees at test time: the mean over ``views``."""
    return x[:, list(views)].mean(1)
