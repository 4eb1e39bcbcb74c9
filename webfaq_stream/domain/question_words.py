"""WebFAQ v1's question-word type of a question, decided from its leading interrogative (no model).

The ten classes are WebFAQ v1's: What, When, Where, Which, Who/Whom/Whose, Why, How, Is/are/do/does,
Can/could/will/would/may/might/shall/should and No Question Word. The word lists and the rules each
language needs live in one data file shipped with the package, ``question_words.toml`` (its header
documents every key); this module only applies them:

1. the question sentence is the first sentence that ends in a question mark (without one, the text);
2. its interrogative is, in this order: a ``front`` phrase at the start of the question clause (after
   at most two ``lead`` words; a leading subordinate clause, "When I use Tor, ...", is skipped), the
   leftmost ``anywhere`` phrase (wh-in-situ languages, particles such as 吗, mı, ли, هل), a ``front``
   phrase at the start of the last clause, a ``final`` phrase; the longest phrase at a position wins;
3. a yes/no particle or a bare question mark gives "can" when a modal stands in the particle's
   window, else "is"; a text with no interrogative and no question mark (or a one-word "X?") is
   "none"; when only the bare question mark of a later sentence made it a question, an interrogative
   at the very start of the text wins ("How much did the U.S. P&C industry write?").

``classify(question, language)`` returns the class id (``what`` ... ``none``) for every language
with word lists (:data:`LANGUAGES`); ``question_word_type(question, language)`` returns the published
class name only for the languages in the data file's ``[coverage]`` table (measured accuracy >= 0.9
on the labelled fixture questions, tests/question_word_labels.tsv) and ``None`` for any other.
Pure: the data file is read once per process; no other I/O.
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

QUESTION_MARKS = ("?", "？", "؟")
CLAUSE_MARKS = frozenset(",;:،؛，；：、—–")
_TRAILING = " \t\n\"'”’»)]」』›"
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})
#: Sentence ends: ? ! 。 always, "." before a space after two letters (not "U.S.", not "1.0.x").
_SENTENCE_END = re.compile(r"(?<=[?？؟!！。])|(?<=[^\W\d_]{2}\.)(?=\s)")
_WORD = re.compile(r"\w+(?:-\w+)*'?")
YESNO = "yesno"
Phrase = tuple[str, ...]


def _fold(text: str) -> str:
    """``text`` without combining marks (accents, Arabic harakat and hamza seats)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def _token_matches(pattern: str, token: str) -> bool:
    """``abc`` exact, ``abc*`` prefix, ``*abc`` suffix (not the bare suffix), ``*abc*`` substring."""
    if len(pattern) > 2 and pattern[0] == "*" and pattern[-1] == "*":
        return pattern[1:-1] in token
    if len(pattern) > 1 and pattern[-1] == "*":
        return token.startswith(pattern[:-1])
    if len(pattern) > 1 and pattern[0] == "*":
        return token.endswith(pattern[1:]) and token != pattern[1:]
    return token == pattern


def _phrase_at(phrase: Phrase, tokens: list[str], i: int) -> bool:
    return i + len(phrase) <= len(tokens) and all(
        _token_matches(pattern, tokens[i + k]) for k, pattern in enumerate(phrase))


@dataclass(frozen=True, slots=True)
class _Match:
    cls: str
    at: int
    length: int


@dataclass(frozen=True)
class PhraseTable:
    """``(phrase, class)`` entries and, per plain first token (not a ``*`` pattern), the entries that
    can start with it, in table order: the patterns' entries among them."""

    entries: tuple[tuple[Phrase, str], ...] = ()
    _starting: dict[str, tuple[tuple[Phrase, str], ...]] = field(init=False, repr=False, compare=False)
    _patterns: tuple[tuple[Phrase, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starting: dict[str, list[tuple[Phrase, str]]] = {}
        patterns: list[tuple[Phrase, str]] = []
        for entry in self.entries:
            phrase = entry[0]
            if phrase and "*" not in phrase[0]:
                starting.setdefault(phrase[0], list(patterns)).append(entry)
            else:  # a pattern may start at any token
                patterns.append(entry)
                for entries in starting.values():
                    entries.append(entry)
        object.__setattr__(self, "_starting", {first: tuple(entries) for first, entries in starting.items()})
        object.__setattr__(self, "_patterns", tuple(patterns))

    def longest(self, tokens: list[str], i: int) -> _Match | None:
        """The longest entry whose phrase matches at token ``i``, the first in table order of equally
        long ones (a scan of the whole table, over the entries that can start there)."""
        best: _Match | None = None
        for phrase, cls in self._starting.get(tokens[i], self._patterns):
            if (best is None or len(phrase) > best.length) and _phrase_at(phrase, tokens, i):
                best = _Match(cls, i, len(phrase))
        return best


@dataclass(frozen=True, slots=True)
class LanguageRules:
    """One language's entry of the data file (keys documented in its header)."""

    chars: bool
    turkish_case: bool
    fold_accents: bool
    char_map: tuple[tuple[str, str], ...]
    openers: tuple[str, ...]
    lead: tuple[Phrase, ...]
    subordinators: tuple[Phrase, ...]
    front: PhraseTable
    anywhere: PhraseTable
    final: tuple[tuple[Phrase, str], ...]
    modals: tuple[Phrase, ...]
    modal_window: tuple[int, int]
    modal_stops: tuple[Phrase, ...]
    yesno_on_first_clause: bool

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> LanguageRules:
        before, after = spec.get("modal_window", (0, 0))
        normalizing = cls(chars=spec.get("script", "words") == "chars",
                          turkish_case=spec.get("case") == "turkish",
                          fold_accents=bool(spec.get("fold_accents", False)),
                          char_map=tuple(dict(spec.get("char_map", {})).items()),
                          openers=tuple(spec.get("openers", ())), lead=(), subordinators=(),
                          front=PhraseTable(), anywhere=PhraseTable(), final=(), modals=(), modal_window=(int(before), int(after)),
                          modal_stops=(), yesno_on_first_clause=spec.get("yesno_clause", "last") == "first")

        def phrases(key: str) -> tuple[Phrase, ...]:
            return tuple(normalizing.phrase(text) for text in spec.get(key, ()))

        def table(key: str) -> tuple[tuple[Phrase, str], ...]:
            return tuple((normalizing.phrase(text), name)
                         for name, texts in spec.get(key, {}).items() for text in texts)

        return replace(normalizing, lead=phrases("lead"), subordinators=phrases("subordinators"),
                       modals=phrases("modals"), modal_stops=phrases("modal_stops"),
                       front=PhraseTable(table("front")), anywhere=PhraseTable(table("anywhere")),
                       final=table("final"))

    def normalize(self, text: str) -> str:
        """NFKC, the language's character map, one apostrophe, lower case, optionally no accents."""
        text = unicodedata.normalize("NFKC", text)
        for old, new in self.char_map:
            text = text.replace(old, new)
        text = text.translate(_APOSTROPHES)
        if self.turkish_case:
            text = text.replace("I", "ı").replace("İ", "i")
        text = text.lower()
        return _fold(text) if self.fold_accents else text

    def phrase(self, text: str) -> Phrase:
        """A data-file phrase as token patterns, normalised like the text (``*`` kept)."""
        if self.chars:
            return tuple(c for c in self.normalize(text) if not c.isspace())
        patterns = []
        for part in text.split():
            core = self.normalize(part.strip("*"))
            prefix, suffix = ("*" if part.startswith("*") else ""), ("*" if part.endswith("*") else "")
            patterns.append(prefix + core + suffix)
        return tuple(patterns)

    def tokens(self, sentence: str) -> tuple[list[str], list[int]]:
        """The tokens of a normalised sentence and the clause number of each."""
        tokens: list[str] = []
        clauses: list[int] = []
        clause = 0
        if self.chars:
            for char in sentence:
                if char in CLAUSE_MARKS:
                    clause += 1
                elif not char.isspace() and not unicodedata.category(char).startswith("P"):
                    tokens.append(char)
                    clauses.append(clause)
            return tokens, clauses
        end = 0
        for match in _WORD.finditer(sentence):
            if any(c in CLAUSE_MARKS for c in sentence[end:match.start()]):
                clause += 1
            tokens.append(match.group())
            clauses.append(clause)
            end = match.end()
        return tokens, clauses


def _first_phrase(phrases: tuple[Phrase, ...], tokens: list[str], i: int) -> int:
    """Length of the first of ``phrases`` at token ``i`` (0: none)."""
    for phrase in phrases:
        if _phrase_at(phrase, tokens, i):
            return len(phrase)
    return 0


def _question_sentence(text: str) -> tuple[str, str, bool]:
    """The first sentence ending in a question mark, the text up to it, and whether there is one."""
    pieces = [piece.strip() for piece in _SENTENCE_END.split(text)]
    for n, piece in enumerate(pieces):
        if piece.rstrip(_TRAILING).endswith(QUESTION_MARKS):
            return piece, " ".join(pieces[:n + 1]), True
    return text.strip(), text.strip(), False


class _Sentence:
    """One question sentence, tokenised, and the search steps of the module contract."""

    def __init__(self, text: str, asked: bool, rules: LanguageRules) -> None:
        self.rules = rules
        self.asked = asked
        for opener in rules.openers:
            if opener in text:
                text = text[text.index(opener) + len(opener):]
        self.tokens, self.clauses = rules.tokens(text)
        self.starts = [i for i in range(len(self.tokens)) if i == 0 or self.clauses[i] != self.clauses[i - 1]]
        self.first = 0
        self.skipped = len(self.starts) > 1 and bool(_first_phrase(rules.subordinators, self.tokens, 0))
        if self.skipped:
            self.first = self.starts[1]

    def front(self, i: int) -> _Match | None:
        for _ in range(3):
            if i >= len(self.tokens):
                return None
            hit = self.rules.front.longest(self.tokens, i)
            if hit:
                return hit
            skip = _first_phrase(self.rules.lead, self.tokens, i)
            if not skip:
                return None
            i += skip
        return None

    def anywhere(self) -> _Match | None:
        for i in range(self.first, len(self.tokens)):
            hit = self.rules.anywhere.longest(self.tokens, i)
            if hit:
                return hit
        return None

    def final(self) -> _Match | None:
        best: _Match | None = None
        for phrase, cls in self.rules.final:
            at = len(self.tokens) - len(phrase)
            longer = best is None or len(phrase) > best.length
            if longer and at >= self.first and _phrase_at(phrase, self.tokens, at):
                best = _Match(cls, at, len(phrase))
        return best

    def words(self) -> int:
        """Words for the one-word-fragment rule (CJK: two characters make a word)."""
        if self.rules.chars:
            return sum(1 for t in self.tokens if not t.isascii() and t.isalpha()) // 2
        return sum(1 for t in self.tokens if sum(c.isalpha() for c in t) >= 2)

    def has_modal(self, match: _Match, window: tuple[int, int]) -> bool:
        clause = self.clauses[match.at]
        low = max(match.at - window[0], 0)
        high = min(match.at + max(match.length, 1) - 1 + window[1], len(self.tokens) - 1)
        for i in range(low, high + 1):
            if self.clauses[i] != clause:
                continue
            if i > match.at and _first_phrase(self.rules.modal_stops, self.tokens, i):
                return False
            if _first_phrase(self.rules.modals, self.tokens, i):
                return True
        return False

    def classify(self, front_only: bool = False) -> tuple[str | None, bool]:
        """``(class, implicit)``: implicit when only a bare question mark made it a yes/no question;
        with ``front_only`` only an interrogative at the start counts (else ``(None, False)``)."""
        if not self.tokens:
            return (None if front_only else "none"), False
        found = self.front(self.first)
        if front_only and not found:
            return None, False
        found = found or self.anywhere()
        if not found and self.asked and not self.skipped and self.starts[-1] != self.first:
            found = self.front(self.starts[-1])
        found = found or self.final()
        window, implicit = self.rules.modal_window, False
        if not found:
            if not self.asked or self.words() < 2:
                return "none", False
            start = self.first if (self.skipped or self.rules.yesno_on_first_clause) else self.starts[-1]
            found, implicit, window = _Match(YESNO, start, 0), True, (0, max(window))
        if found.cls != YESNO:
            return found.cls, implicit
        return ("can" if self.has_modal(found, window) else "is"), implicit


@dataclass(frozen=True, slots=True)
class QuestionWords:
    """The data file: class names, per-language rules and the measured coverage."""

    class_names: Mapping[str, str]
    languages: Mapping[str, LanguageRules]
    coverage: Mapping[str, float]

    @classmethod
    def from_toml(cls, text: str) -> QuestionWords:
        data = tomllib.loads(text)
        return cls(class_names=dict(data["classes"]),
                   languages={code: LanguageRules.from_spec(spec)
                              for code, spec in data["languages"].items()},
                   coverage={code: float(value) for code, value in data.get("coverage", {}).items()})

    def classify(self, question: str, language: str) -> str:
        """The class id of ``question`` in ``language`` (ISO 639-3; ``ValueError`` without word lists)."""
        rules = self.languages.get(language)
        if rules is None:
            raise ValueError(f"no question-word lists for language {language!r}")
        sentence, region, asked = _question_sentence(rules.normalize(question))
        cls, implicit = _Sentence(sentence, asked, rules).classify()
        if implicit and region != sentence:
            earlier, _ = _Sentence(region, asked, rules).classify(front_only=True)
            if earlier is not None:
                return earlier
        return cls or "none"

    def question_word_type(self, question: str, language: str) -> str | None:
        """The published class name for a covered language, ``None`` for any other."""
        if language not in self.coverage:
            return None
        return self.class_names[self.classify(question, language)]


@cache
def question_words() -> QuestionWords:
    """The packaged data file, read once per process."""
    resource = importlib.resources.files("webfaq_stream.domain").joinpath("question_words.toml")
    return QuestionWords.from_toml(resource.read_text(encoding="utf-8"))


def classify(question: str, language: str) -> str:
    """:meth:`QuestionWords.classify` with the packaged data file."""
    return question_words().classify(question, language)


def question_word_type(question: str, language: str) -> str | None:
    """:meth:`QuestionWords.question_word_type` with the packaged data file."""
    return question_words().question_word_type(question, language)
