"""Routing: which team gets the question. Profile rules (from configuration) first, then a classifier
trained on labelled history; a low-confidence prediction falls back to the default queue, and an
escalated (angry) customer goes to the priority queue. ``reason`` says which of these decided."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, Field, ValidationError

from core.errors import BadInput

from .classifier import TextClassifier, join_english


class Route(BaseModel):
    team: str
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str


class ProfileRule(BaseModel):
    """``field`` of the customer profile equal to ``equals`` (case-insensitive) sends to ``team``."""

    field: str
    equals: str
    team: str


class RoutingConfig(BaseModel):
    rules: list[ProfileRule] = Field(default_factory=list)
    default_queue: str = "general"
    priority_queue: str = "priority"
    min_confidence: float = 0.5


def load_routing_config(path: Path | None) -> RoutingConfig:
    """From TOML or YAML, e.g. (TOML)::

        default_queue = "general"
        priority_queue = "priority"
        min_confidence = 0.5
        [[rules]]
        field = "tier"
        equals = "vip"
        team = "vip_desk"
    """
    if path is None:
        return RoutingConfig()
    if not path.is_file():
        raise BadInput(f"routing configuration not found: {path}")
    try:
        data: Any = (tomllib.loads(path.read_text(encoding="utf-8")) if path.suffix == ".toml"
                     else yaml.safe_load(path.read_text(encoding="utf-8")))
        return RoutingConfig.model_validate(data or {})
    except (tomllib.TOMLDecodeError, yaml.YAMLError, ValidationError) as exc:
        raise BadInput(f"bad routing configuration {path}: {exc}") from exc


class Router:
    def __init__(self, classifier: TextClassifier | None, config: RoutingConfig,
                 english: Callable[[str], np.ndarray | None] | None = None) -> None:
        self.classifier = classifier
        self.config = config
        self.english = english
        """The English embedder's vector of a text (None when it is not English or there is none): a
        classifier trained with it gets it appended to the shared embedding."""

    def route(
        self, text: str, embedding: np.ndarray, customer: Mapping[str, Any] | None = None, escalate: bool = False,
    ) -> Route:
        if escalate:
            return Route(team=self.config.priority_queue, confidence=1.0,
                         reason="escalated: angry or frustrated customer goes to the priority queue")
        for rule in self.config.rules:
            value = (customer or {}).get(rule.field)
            if value is not None and str(value).strip().lower() == rule.equals.strip().lower():
                return Route(team=rule.team, confidence=1.0,
                             reason=f"profile rule: {rule.field} = {rule.equals} -> {rule.team}")
        if self.classifier is None:
            return Route(team=self.config.default_queue, confidence=0.0,
                         reason="no router trained yet (kb train-router): default queue")
        features = embedding
        if self.classifier.english_dim:
            english = self.english(text) if self.english is not None else None
            features = join_english(embedding, english, self.classifier.english_dim)[0]
        team, p = self.classifier.predict([text], features[None, :])[0]
        if p < self.config.min_confidence:
            return Route(team=self.config.default_queue, confidence=round(p, 4),
                         reason=f"classifier unsure ({team} at {p:.2f} < {self.config.min_confidence}): default queue")
        return Route(team=team, confidence=round(p, 4),
                     reason=f"classifier v{self.classifier.version}: {team} at {p:.2f}")
