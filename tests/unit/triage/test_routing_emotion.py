"""Routing and emotion: training, persistence, rules, fallback, escalation, bad training files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from answering.calibration import threshold_for_precision
from core.errors import BadInput
from retrieval.embed import FakeEmbedder
from triage.classifier import TextClassifier, read_labelled, train_text_classifier
from triage.emotion import EmotionDetector, lexicon_score
from triage.routing import ProfileRule, Router, RoutingConfig, load_routing_config

EMB = FakeEmbedder(dim=32)
TRAIN = [
    ("my card payment failed", "billing"), ("charged twice on my card", "billing"),
    ("need an invoice", "billing"), ("refund to my card", "billing"),
    ("payment declined at checkout", "billing"), ("invoice with tax number", "billing"),
    ("where is my parcel", "logistics"), ("package not delivered", "logistics"), ("track my parcel", "logistics"),
    ("delivery is late", "logistics"), ("change delivery address", "logistics"),
    ("parcel lost by courier", "logistics"),
] * 2


def classifier() -> TextClassifier:
    texts, labels = zip(*TRAIN, strict=True)
    return train_text_classifier(list(texts), list(labels), EMB.embed_queries(list(texts)), lexical=True)


def test_train_predict_and_round_trip(tmp_path: Path) -> None:
    clf = classifier()
    texts = ["my parcel was not delivered", "my card was charged twice"]
    emb = EMB.embed_queries(texts)
    assert [label for label, _ in clf.predict(texts, emb)] == ["logistics", "billing"]
    clf.save(tmp_path / "router")
    again = TextClassifier.load(tmp_path / "router")
    assert np.array_equal(again.predict_proba(texts, emb), clf.predict_proba(texts, emb))
    assert again.labels == ["billing", "logistics"] and again.version == 1


def test_profile_rules_fallback_and_escalation() -> None:
    config = RoutingConfig(rules=[ProfileRule(field="tier", equals="VIP", team="vip_desk")], min_confidence=0.99)
    router = Router(classifier(), config)
    text = "where is my parcel"
    emb = EMB.embed_queries([text])[0]
    vip = router.route(text, emb, {"tier": "vip"})
    assert (vip.team, vip.reason) == ("vip_desk", "profile rule: tier = VIP -> vip_desk")
    unsure = router.route(text, emb, {"tier": "standard"})
    assert unsure.team == "general" and "default queue" in unsure.reason
    angry = router.route(text, emb, {"tier": "vip"}, escalate=True)
    assert angry.team == "priority" and angry.reason.startswith("escalated")
    confident = Router(classifier(), RoutingConfig(min_confidence=0.0)).route(text, emb)
    assert confident.team == "logistics" and confident.reason.startswith("classifier v1: logistics")
    assert Router(None, RoutingConfig()).route(text, emb).team == "general"


def test_routing_config_files(tmp_path: Path) -> None:
    toml = tmp_path / "routing.toml"
    toml.write_text('default_queue = "frontline"\n[[rules]]\nfield = "channel"\nequals = "phone"\nteam = "voice"\n',
                    encoding="utf-8")
    cfg = load_routing_config(toml)
    assert cfg.default_queue == "frontline" and cfg.rules[0].team == "voice"
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [{field: tier}]\n", encoding="utf-8")
    with pytest.raises(BadInput, match="bad routing configuration"):
        load_routing_config(bad)


def test_read_labelled_errors(tmp_path: Path) -> None:
    good = tmp_path / "t.jsonl"
    good.write_text("\n".join(json.dumps({"text": t, "team": lab}) for t, lab in TRAIN[:8]), encoding="utf-8")
    assert read_labelled(good, "text", "team")[1][:2] == ["billing", "billing"]
    with pytest.raises(BadInput, match=r"missing column\(s\) \['label'\]; columns present: \['team', 'text'\]"):
        read_labelled(good, "text", "label")
    one = tmp_path / "one.csv"
    one.write_text("text,team\na,billing\nb,billing\n", encoding="utf-8")
    with pytest.raises(BadInput, match="only one class"):
        read_labelled(one, "text", "team")
    empty = tmp_path / "empty.csv"
    empty.write_text("text,team\n", encoding="utf-8")
    with pytest.raises(BadInput, match="has no rows"):
        read_labelled(empty, "text", "team")
    with pytest.raises(BadInput, match="no such training file"):
        read_labelled(tmp_path / "missing.csv", "text", "team")


def test_lexicon_in_both_languages() -> None:
    assert lexicon_score("这都第三次了还没修好，你们怎么回事！") == 1 - 0.5**3  # 第三次, 还没修好, 怎么回事
    assert lexicon_score("This is ridiculous, I want my money back NOW") == 1 - 0.5**3  # ridiculous, money back, NOW
    assert lexicon_score("how long does a refund take") == 0.0
    assert lexicon_score("I have an issue with the suitcase") == 0.0  # whole words: no "sue" in "issue"
    d = EmotionDetector(threshold=0.6)
    assert d.detect("垃圾产品！！用了两天就坏", None).escalate
    assert not d.detect("我的订单到哪了", None).escalate


def test_escalation_threshold_from_precision() -> None:
    scores = [0.95, 0.9, 0.8, 0.7, 0.2]
    angry = [True, True, True, False, False]
    assert threshold_for_precision(scores, angry, 0.91) == 0.8


def test_snownlp_scores_a_repeated_chinese_question_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import triage.emotion as emotion

    calls: list[str] = []

    def counted(text: str) -> float:
        calls.append(text)
        return 0.5

    monkeypatch.setattr(emotion, "zh_negativity", counted)
    detector = emotion.EmotionDetector(threshold=0.25)  # low enough for snownlp's vote (0.3 x) to decide
    first = detector.detect("我的订单什么时候发货", None)
    again = detector.detect("我的订单什么时候发货", None)
    assert first == again and calls == ["我的订单什么时候发货"]
    assert first.score == pytest.approx(0.15) and not first.escalate


def test_snownlp_is_skipped_when_its_vote_cannot_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    """snownlp weighs at most 0.5 (beside a complaint phrase) and 0.3 (without): under the default
    threshold 0.6 it can never decide, so it is not run; the decisions match the full computation."""
    import triage.emotion as emotion

    calls: list[str] = []

    def counted(text: str) -> float:
        calls.append(text)
        return 1.0

    monkeypatch.setattr(emotion, "zh_negativity", counted)
    default = emotion.EmotionDetector()
    texts = ["我的订单什么时候发货", "垃圾产品！！用了两天就坏", "太差劲了，退款", "How do I reset my password?"]
    fast = [default.detect(t, None) for t in texts]
    assert calls == []
    for text, got in zip(texts, fast, strict=True):
        f = default.features(text, None)
        full = max(f["classifier"], f["lexicon"], (0.5 if f["lexicon"] > 0 else 0.3) * f["zh_negativity"])
        assert got.escalate == (full >= default.threshold)
    # a threshold snownlp can reach without a complaint phrase (0.3 x 1.0): consulted, and it decides
    assert len(calls) == 3  # the features() calls on the three Chinese texts above
    low = emotion.EmotionDetector(threshold=0.28)
    assert low.detect("我的订单什么时候发货", None).escalate and len(calls) == 4
    # score() stays the full computation (training fits the threshold on it): the vote is always counted
    assert default.score("我的订单什么时候发货", None) == pytest.approx(0.3)  # the vote counted (memoised text)


def test_router_ensemble_takes_the_char_ngram_baseline_when_it_wins_cross_validation(tmp_path: Path) -> None:
    """Labels carried by a character pattern the (noise) embedding cannot see: cross-validation gives the
    char n-gram SVM baseline weight, and the ensemble is at least as accurate as the logistic model alone."""

    rng = np.random.default_rng(0)
    words = ["alpha", "bravo", "delta", "kilo", "lima", "oscar", "tango", "zulu"]
    texts, labels = [], []
    for i in range(120):
        label = ["card", "loan", "fx"][i % 3]
        marker = {"card": "crd#", "loan": "ln$", "fx": "fx%"}[label]
        texts.append(f"{' '.join(rng.choice(words, 3))} {marker}{i}")
        labels.append(label)
    noise = rng.normal(size=(len(texts), 8)).astype(np.float32)
    clf = train_text_classifier(texts, labels, noise, lexical=False, ensemble=True)
    assert clf.baseline_weight > 0.0
    scores = clf.meta["cv_accuracy_by_baseline_weight"]
    assert max(scores.values()) == scores[f"{clf.baseline_weight:g}"] >= scores["0"]
    proba = clf.predict_proba(texts[:3], noise[:3])
    assert proba.shape == (3, 3) and np.allclose(proba.sum(axis=1), 1.0)
    clf.save(tmp_path / "router")
    again = TextClassifier.load(tmp_path / "router")
    assert again.baseline_weight == clf.baseline_weight
    assert np.allclose(again.predict_proba(texts[:3], noise[:3]), proba)


def test_router_trained_with_the_english_vector_gets_it_at_routing() -> None:
    """A classifier trained on [shared | English] vectors: the router appends the English vector of the text
    it routes (zeros for text without one). Here the shared part is all zeros, so only the English part can
    tell the teams apart."""
    from triage.classifier import join_english
    from triage.training import router_features

    english = FakeEmbedder(dim=16)
    texts, labels = zip(*TRAIN, strict=True)
    zero = FakeEmbedder(dim=4)
    zero.embed_queries = lambda ts: np.zeros((len(ts), 4), dtype=np.float32)  # type: ignore[method-assign]
    x = router_features(zero, english, list(texts))
    assert x.shape == (len(texts), 20) and np.array_equal(x[:, 4:], english.embed_queries(list(texts)))
    assert np.array_equal(join_english(np.ones(4), None, 3), np.array([[1, 1, 1, 1, 0, 0, 0]], dtype=np.float32))
    clf = train_text_classifier(list(texts), list(labels), x, lexical=False)
    clf.meta["english_dim"] = 16
    asked: list[str] = []

    def lookup(text: str) -> np.ndarray:
        asked.append(text)
        return english.embed_queries([text])[0]

    router = Router(clf, RoutingConfig(min_confidence=0.0), english=lookup)
    assert router.route("charged twice on my card", np.zeros(4)).team == "billing"
    assert router.route("parcel lost by courier", np.zeros(4)).team == "logistics"
    assert asked == ["charged twice on my card", "parcel lost by courier"]
    blind = Router(clf, RoutingConfig(min_confidence=0.0))  # no English embedder at serving: zeros, one answer
    assert blind.route("charged twice on my card", np.zeros(4)).team == blind.route("parcel lost", np.zeros(4)).team
