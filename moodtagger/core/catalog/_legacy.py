"""Transitional: the Catalog's old method names, resolved to the table families until every
call site uses the families (/work/wt/notes/catalog_rewrite.py rewrites them). Removed then."""

from __future__ import annotations

from typing import Any

LEGACY: dict[str, tuple[str, str]] = {
    "add_root": ("photos", "add_root"),
    "roots": ("photos", "roots"),
    "photo": ("photos", "by_id"),
    "photo_by_path": ("photos", "by_path"),
    "photos": ("photos", "all"),
    "count_photos": ("photos", "count"),
    "photo_ids_under": ("photos", "ids_under"),
    "missing_ids": ("photos", "missing_ids"),
    "max_photo_id": ("photos", "max_id"),
    "set_file_state": ("photos", "set_file_state"),
    "set_sidecar_sig": ("photos", "set_sidecar_sig"),
    "known_under": ("photos", "known_under"),
    "assign_root": ("photos", "assign_root"),
    "set_sidecar_sigs": ("photos", "set_sidecar_sigs"),
    "set_ctimes": ("photos", "set_ctimes"),
    "mark_missing": ("photos", "mark_missing"),
    "mark_unreadable": ("photos", "mark_unreadable"),
    "store_scanned": ("photos", "store_scanned"),
    "grid_rows": ("views", "grid_rows"),
    "iter_library": ("views", "library"),
    "iter_with_predictions": ("views", "with_predictions"),
    "failed_photos": ("views", "failed"),
    "save_predictions": ("predictions", "save"),
    "prediction": ("predictions", "get"),
    "current_prediction": ("predictions", "current"),
    "photos_needing_prediction": ("predictions", "photos_needing"),
    "predictions_for": ("predictions", "probs_for"),
    "valence_arousal_for": ("predictions", "valence_arousal_for"),
    "delete_predictions": ("predictions", "delete"),
    "delete_unused_predictions": ("predictions", "delete_unused"),
    "set_model_in_use": ("models_in_use", "set"),
    "model_in_use": ("models_in_use", "get"),
    "models_in_use": ("models_in_use", "all"),
    "set_choice": ("choices", "set"),
    "forget_choice": ("choices", "forget"),
    "forget_choices": ("choices", "forget_many"),
    "choice": ("choices", "get"),
    "choice_sources": ("choices", "sources"),
    "mark_choice": ("choices", "mark"),
    "pending_choices": ("choices", "pending"),
    "labelled_photos": ("choices", "labelled"),
    "set_file_keywords": ("file_keywords", "set"),
    "file_keywords": ("file_keywords", "get"),
    "all_file_keywords": ("file_keywords", "all"),
    "keyword_additions": ("keyword_additions", "get"),
    "has_keyword_additions": ("keyword_additions", "has"),
    "set_keyword_additions": ("keyword_additions", "set"),
    "journal_start": ("journal", "start"),
    "journal_temp": ("journal", "set_temp"),
    "journal_finish": ("journal", "finish"),
    "journal_skip_rest": ("journal", "skip_rest"),
    "journal_interrupted": ("journal", "interrupted"),
    "journal_close_interrupted": ("journal", "close_interrupted"),
    "last_written_moods": ("journal", "last_written_moods"),
    "save_embeddings": ("embeddings", "save"),
    "embedding": ("embeddings", "get"),
    "embeddings": ("embeddings", "all"),
    "embedding_models": ("embeddings", "models"),
    "embedding_size": ("embeddings", "size"),
}
FAMILIES = {fam for fam, _ in LEGACY.values()}


def resolve(catalog: object, name: str) -> Any:
    """``catalog.<old name>`` as the family method it became (AttributeError otherwise)."""
    if name in FAMILIES or name not in LEGACY:
        raise AttributeError(name)
    fam, new = LEGACY[name]
    return getattr(getattr(catalog, fam), new)
