"""Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009).

Fuses rankings by rank alone, so lists whose scores are not comparable (BM25 over
per-language fields, cosine similarities) combine without calibration:

    score(d) = Σ_lists weight × item weight / (k + rank of d in the list)      (rank from 1)

Ranks alone throw away how much better the first hit is than the tenth; an item weight from the
list's own scores (score_weights) puts some of that back.
"""

RRF_K = 60  # the paper's constant: flattens the head so that no single list dominates


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = RRF_K,
                           weights: list[float] | None = None,
                           item_weights: list[dict[str, float] | None] | None = None) -> list[tuple[str, float]]:
    """(id, fused score) best first; ties keep the order of first appearance.

    weights: one per ranking; item_weights: per ranking, an optional id → weight map.
    """
    if weights is None:
        weights = [1.0] * len(rankings)
    if item_weights is None:
        item_weights = [None] * len(rankings)
    if len(weights) != len(rankings) or len(item_weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[str, float] = {}
    for ranking, weight, per_item in zip(rankings, weights, item_weights):
        seen = set()
        for rank, doc_id in enumerate(ranking, start=1):
            if doc_id in seen:  # a list naming a document twice counts its best rank only
                continue
            seen.add(doc_id)
            item = per_item.get(doc_id, 1.0) if per_item is not None else 1.0
            scores[doc_id] = scores.get(doc_id, 0.0) + weight * item / (k + rank)
    # sorted() is stable and the dict keeps first appearances in order: ties stay in that order
    return sorted(scores.items(), key=_minus_score)


def _minus_score(item: tuple[str, float]) -> float:
    return -item[1]


def score_weights(scored: list[tuple[str, float]], power: float) -> dict[str, float]:
    """Each item's score relative to the best one, raised to power (1.0 for the best)."""
    top = max((score for _, score in scored), default=0.0)
    if top <= 0:
        return {doc_id: 1.0 for doc_id, _ in scored}
    return {doc_id: max(0.0, score / top) ** power for doc_id, score in scored}
