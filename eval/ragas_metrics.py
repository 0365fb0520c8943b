"""ragas metrics that need no LLM, on the records of an evaluation run.

* ID-based context precision/recall: retrieved entry/document ids against the gold ids.
* ROUGE-L, BLEU, chrF and string similarity of the answer against the reference answer. ragas' ROUGE
  and BLEU tokenizers drop Chinese characters, so both texts are segmented with jieba first and every
  word is mapped to an ASCII token (the same word gets the same token in both texts).
* Semantic similarity with the project's own embedder (no OpenAI default).

Faithfulness, answer relevancy and answer correctness need an LLM judge: they run with the configured
OpenAI-compatible endpoint when ``KB_LLM_BASE_URL`` is set, and the report says they were skipped otherwise."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from service.knowledge_base import KnowledgeBase


def _ascii_tokens(a: str, b: str, segment: Any) -> tuple[str, str]:
    vocab: dict[str, str] = {}

    def enc(text: str) -> str:
        return " ".join(vocab.setdefault(w, f"w{len(vocab)}") for w in segment(text))

    return enc(a), enc(b)


def ragas_scores(kb: KnowledgeBase, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    from ragas import EvaluationDataset, SingleTurnSample, evaluate
    from ragas.embeddings.base import BaseRagasEmbeddings
    from ragas.metrics._answer_similarity import SemanticSimilarity
    from ragas.metrics._bleu_score import BleuScore
    from ragas.metrics._chrf_score import ChrfScore
    from ragas.metrics._context_precision import IDBasedContextPrecision
    from ragas.metrics._context_recall import IDBasedContextRecall
    from ragas.metrics._rouge_score import RougeScore
    from ragas.metrics._string import NonLLMStringSimilarity

    class ProjectEmbeddings(BaseRagasEmbeddings):  # type: ignore[misc]
        def embed_query(self, text: str) -> list[float]:
            return [float(x) for x in kb.embedder.embed_passages([text])[0]]

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in v] for v in kb.embedder.embed_passages(texts)]

        async def aembed_query(self, text: str) -> list[float]:
            return self.embed_query(text)

        async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.embed_documents(texts)

    out: dict[str, Any] = {}
    retrieval = [
        SingleTurnSample(
            user_input=r["question"],
            retrieved_context_ids=list(dict.fromkeys(r["ranked"]["hybrid"]))[:5],
            reference_context_ids=r["gold_ids"],
        )
        for r in records
        if r["gold_ids"]
    ]
    if retrieval:
        res = evaluate(
            EvaluationDataset(samples=list[Any](retrieval)),
            metrics=[IDBasedContextPrecision(), IDBasedContextRecall()],
            show_progress=False,
        )
        out.update({k: round(float(v), 4) for k, v in _means(res).items()})
    texts = [r for r in records if r.get("answer") and r.get("reference_answer")]
    if texts:
        samples = []
        raw = []
        for r in texts:
            resp, ref = _ascii_tokens(r["answer"], r["reference_answer"], kb.tokenizer.segment)
            samples.append(SingleTurnSample(user_input=r["question"], response=resp, reference=ref))
            raw.append(
                SingleTurnSample(user_input=r["question"], response=r["answer"], reference=r["reference_answer"])
            )
        res = evaluate(
            EvaluationDataset(samples=list[Any](samples)), metrics=[RougeScore(), BleuScore()], show_progress=False
        )
        out.update({f"{k} (jieba-segmented)": round(float(v), 4) for k, v in _means(res).items()})
        res = evaluate(
            EvaluationDataset(samples=list[Any](raw)),
            metrics=[ChrfScore(), NonLLMStringSimilarity(), SemanticSimilarity(embeddings=ProjectEmbeddings())],
            show_progress=False,
        )
        out.update({k: round(float(v), 4) for k, v in _means(res).items()})
    if kb.settings.llm_base_url and texts:
        out.update(_llm_judged(kb, texts, ProjectEmbeddings()))
    else:
        out["llm_metrics"] = "skipped: faithfulness, answer relevancy and answer correctness need KB_LLM_BASE_URL"
    return out


def _llm_judged(kb: KnowledgeBase, records: Sequence[dict[str, Any]], embeddings: Any) -> dict[str, float]:
    """Faithfulness, answer relevancy and answer correctness with the configured OpenAI-compatible LLM as
    the judge (ragas never falls back to its OpenAI defaults here: llm and embeddings are explicit)."""
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr
    from ragas import EvaluationDataset, SingleTurnSample, evaluate
    from ragas.llms import LangchainLLMWrapper
    from ragas.metrics._answer_correctness import AnswerCorrectness
    from ragas.metrics._answer_relevance import AnswerRelevancy
    from ragas.metrics._faithfulness import Faithfulness

    chat = ChatOpenAI(base_url=kb.settings.llm_base_url, model=kb.settings.llm_model,
                      api_key=kb.settings.llm_api_key or SecretStr("not-needed"), timeout=kb.settings.llm_timeout_s * 4)
    llm = LangchainLLMWrapper(chat)
    samples = [SingleTurnSample(user_input=r["question"], response=r["answer"], reference=r["reference_answer"],
                                retrieved_contexts=r.get("contexts") or []) for r in records]
    res = evaluate(EvaluationDataset(samples=list[Any](samples)),
                   metrics=[Faithfulness(), AnswerRelevancy(), AnswerCorrectness()], llm=llm, embeddings=embeddings,
                   show_progress=False, raise_exceptions=False)
    return {f"{k} (LLM judge {kb.settings.llm_model})": round(float(v), 4) for k, v in _means(res).items()}


def _means(result: Any) -> dict[str, float]:
    frame = result.to_pandas()
    return {c: float(frame[c].mean()) for c in frame.columns if frame[c].dtype.kind == "f"}
