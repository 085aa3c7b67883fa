"""Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009).

Fuses rankings by rank alone, so lists whose scores are not comparable (BM25 over
per-language fields, cosine similarities) combine without calibration:

    score(d) = Σ_lists weight / (k + rank of d in the list)      (rank from 1)
"""

RRF_K = 60  # the paper's constant: flattens the head so that no single list dominates


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = RRF_K,
                           weights: list[float] | None = None) -> list[tuple[str, float]]:
    """(id, fused score) best first; ties keep the order of first appearance."""
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights):
        seen = set()
        for rank, doc_id in enumerate(ranking, start=1):
            if doc_id in seen:  # a list naming a document twice counts its best rank only
                continue
            seen.add(doc_id)
            scores[doc_id] = scores.get(doc_id, 0.0) + weight / (k + rank)
    order = {doc_id: i for i, doc_id in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))
