"""The labelled data the head is trained and evaluated on (read from ../shared/data, never copied).

* ArtPhoto (Machajdik & Hanbury 2010): label = file-name prefix (``sad_`` = sadness); 18 groups
  of byte-identical duplicates listed in DUPLICATES.txt must stay inside one fold.
* Emotion6 (Peng et al. 2015): vote distributions over 6 Ekman emotions + neutral, valence and
  arousal (1-9) in ground_truth.txt; the folder is the search query, not the label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodtagger.core import paths
from moodtagger.core.moods import MOODS, normalize_mood

EMOTION6_BINS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")


def shared_data_dir() -> Path:
    env = paths.env_path(paths.SHARED_DATA)
    if env is not None:
        return env
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent.parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return Path.cwd().parent / "shared" / "data"


@dataclass(frozen=True)
class ArtPhoto:
    files: list[Path]
    labels: np.ndarray  # int index into MOODS
    groups: np.ndarray  # duplicate-group id per file (singletons get their own)


def load_artphoto(root: Path | None = None) -> ArtPhoto:
    root = root or shared_data_dir() / "artphoto"
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    labels = np.array([MOODS.index(normalize_mood(p.name.split("_")[0])) for p in files])
    group_of = {p.name: i for i, p in enumerate(files)}
    dup = root / "DUPLICATES.txt"
    if dup.exists():
        for line in dup.read_text().splitlines():
            names = [n for n in line.replace(",", " ").split() if n in group_of]
            if len(names) > 1:
                g = min(group_of[n] for n in names)
                for n in names:
                    group_of[n] = g
    groups = np.array([group_of[p.name] for p in files])
    return ArtPhoto(files, labels, groups)


def stratified_group_folds(
    labels: np.ndarray, groups: np.ndarray, k: int = 5, seed: int = 0
) -> np.ndarray:
    """Fold index per sample: stratified by label, each duplicate group inside one fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    folds = np.full(len(labels), -1)
    sgkf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for f, (_, test) in enumerate(sgkf.split(np.zeros(len(labels)), labels, groups)):
        folds[test] = f
    return folds


@dataclass(frozen=True)
class Emotion6:
    files: list[Path]
    valence: np.ndarray
    arousal: np.ndarray
    votes: np.ndarray  # (n, 7) in EMOTION6_BINS order


def load_emotion6(root: Path | None = None) -> Emotion6:
    root = root or shared_data_dir() / "emotion6"
    files, val, aro, votes = [], [], [], []
    for line in (root / "ground_truth.txt").read_text().splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) < 10:
            continue
        files.append(root / "images" / parts[0])
        val.append(float(parts[1]))
        aro.append(float(parts[2]))
        votes.append([float(x) for x in parts[3:10]])
    return Emotion6(files, np.array(val), np.array(aro), np.array(votes))


@dataclass(frozen=True)
class Twitter1:
    """Twitter I (You et al., AAAI 2015): positive/negative polarity with the number of the five
    AMT workers who agreed (3, 4 or 5); "five-agree" is the benchmark's cleanest subset."""

    files: list[Path]
    positive: np.ndarray  # 1 = positive, 0 = negative
    agreement: np.ndarray  # 3..5
    groups: np.ndarray  # duplicate-group id per file (singletons get their own)


def _duplicate_groups(names: list[str], dup_file: Path) -> np.ndarray:
    group_of = {n: i for i, n in enumerate(names)}
    if dup_file.exists():
        for line in dup_file.read_text().splitlines():
            if line.startswith("#"):
                continue
            members = [n for n in line.replace(",", " ").split() if n in group_of]
            if len(members) > 1:
                g = min(group_of[n] for n in members)
                for n in members:
                    group_of[n] = g
    return np.array([group_of[n] for n in names])


def load_twitter1(root: Path | None = None) -> Twitter1:
    import csv

    root = root or shared_data_dir() / "twitter1"
    with open(root / "labels.csv", newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["file"])
    names = [r["file"] for r in rows]
    return Twitter1(
        [root / "images" / n for n in names],
        np.array([r["polarity"] == "positive" for r in rows], dtype=int),
        np.array([int(r["agreement"]) for r in rows]),
        _duplicate_groups(names, root / "DUPLICATES.txt"),
    )


def load_imagenet_sample(root: Path | None = None) -> list[Path]:
    """The 1,000 ImageNet sample photos (one per class), unlabelled for moods: everyday photos
    for v3's prior correction (and the backbone check and int8 calibration)."""
    root = root or shared_data_dir() / "imagenet-sample"
    return sorted(p for p in root.iterdir() if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
