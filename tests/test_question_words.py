"""WebFAQ v1 question-word types: accuracy on real fixture questions labelled by reading them, the
coverage it decides, the README's table, and the rules on constructed cases.

The labels (tests/question_word_labels.tsv) name fixture entries by reference; the question texts are
read from ../shared/fixtures at run time (their licences keep them out of the repository).
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest
from shared_fixtures import SHARED_FIXTURES

from webfaq_stream.domain.question_words import QuestionWords, classify, question_word_type, question_words

REPO = Path(__file__).resolve().parents[1]
FIXTURES = SHARED_FIXTURES
LABELS = Path(__file__).with_name("question_word_labels.tsv")
DATA_FILE = REPO / "webfaq_stream" / "domain" / "question_words.toml"
#: The 20 largest WebFAQ languages (issue 17): each has word lists in the data file.
LARGEST = ("ara", "dan", "deu", "eng", "fas", "fra", "hin", "ind", "ita", "jpn", "kor", "nld", "pol", "por",
           "rus", "spa", "swe", "tur", "vie", "zho")
MIN_LABELLED = 30
MIN_ACCURACY = 0.9


@cache
def fixture_questions(source: str) -> dict[str, str]:
    """ref -> question of one fixture file (multilingual-faq: entry key; faq-pages: pair index)."""
    items = json.loads((FIXTURES / source).read_text(encoding="utf-8"))
    if source.startswith("multilingual-faq/"):
        return {item["key"]: item["question"] for item in items}
    return {str(index): item["question"] for index, item in enumerate(items)}


def labelled() -> list[dict[str, str]]:
    lines = [line for line in LABELS.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


@cache
def measured() -> dict[str, dict[str, int]]:
    """Per language: labelled questions, correct ones, and the same for the held-out set."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in labelled():
        question = fixture_questions(row["source"])[row["ref"]]
        right = classify(question, row["language"]) == row["label"]
        for part in ("all", row["set"]):
            counts[row["language"]][f"{part}_n"] += 1
            counts[row["language"]][f"{part}_ok"] += right
    return {language: dict(values) for language, values in counts.items()}


def accuracy(language: str) -> float:
    values = measured()[language]
    return values["all_ok"] / values["all_n"]


def test_labels_are_valid_references_with_known_classes() -> None:
    rows = labelled()
    classes = set(question_words().class_names)
    assert {row["label"] for row in rows} <= classes and {row["set"] for row in rows} == {"dev", "held"}
    assert len({(row["source"], row["ref"]) for row in rows}) == len(rows)
    for row in rows:
        assert row["ref"] in fixture_questions(row["source"]), row
    per_language = defaultdict(int)
    for row in rows:
        per_language[row["language"]] += 1
    assert sum(n >= MIN_LABELLED for n in per_language.values()) >= 8


def test_coverage_is_what_the_labelled_set_measures() -> None:
    """Covered = at least 30 labelled questions and accuracy >= 0.9; the table records the figure."""
    expected = {language: round(accuracy(language), 3) for language, values in measured().items()
                if values["all_n"] >= MIN_LABELLED and accuracy(language) >= MIN_ACCURACY}
    assert question_words().coverage == pytest.approx(expected, abs=5e-4)
    assert len(expected) >= 8
    for language in question_words().coverage:
        assert accuracy(language) >= MIN_ACCURACY and measured()[language]["all_n"] >= MIN_LABELLED


def test_held_out_questions_score_like_the_rest() -> None:
    """Questions labelled with the others but first scored after the word lists were written."""
    held_n = sum(values.get("held_n", 0) for values in measured().values())
    held_ok = sum(values.get("held_ok", 0) for values in measured().values())
    assert held_n >= 300 and held_ok / held_n >= MIN_ACCURACY


def test_readme_table_is_the_measurement() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Question-word type", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): (int(m.group(2)), int(m.group(3)), m.group(4))
            for m in re.finditer(r"^\| `(\w{3})` \| (\d+) \| (\d+) \| ([^|]+?) \|", section, re.MULTILINE)}
    assert set(rows) == set(measured())
    for language, (n, right, published) in rows.items():
        values = measured()[language]
        assert (n, right) == (values["all_n"], values["all_ok"]), language
        assert (published.strip() == "yes") == (language in question_words().coverage), language


def test_the_data_file_covers_the_largest_languages_and_documents_its_keys() -> None:
    data = tomllib.loads(DATA_FILE.read_text(encoding="utf-8"))
    assert set(LARGEST) <= set(data["languages"])
    header = DATA_FILE.read_text(encoding="utf-8").split("[coverage]\n", 1)[0]
    for spec in data["languages"].values():
        for key in spec:
            assert re.search(rf"^#\s+{key}\b", header, re.MULTILINE), f"undocumented key {key}"
        for table in ("front", "anywhere", "final"):
            assert set(spec.get(table, {})) <= set(data["classes"]) | {"yesno"}


@pytest.mark.parametrize(("language", "question", "expected"), [
    ("eng", "When I use Tor, can anyone see which sites I visit?", "can"),  # leading subordinate clause
    ("eng", "When should I renew my plan?", "when"),
    ("eng", "Our site is blocked. Is there a mirror?", "is"),  # the question is the second sentence
    ("eng", "How much did the U.S. P&C industry write in premiums?", "how"),  # "U.S." ends no sentence
    ("eng", "Shipping costs", "none"),
    ("eng", "Version 2.0?", "none"),  # one word and a question mark: no question form
    ("eng", "Which plan suits a family", "which"),  # no question mark, still an interrogative
    ("deu", "Gibt es eine Garantie?", "is"),  # V1 question
    ("deu", "Darf ich meinen Hund mitbringen?", "can"),
    ("deu", "Welchen Tarif soll ich wählen?", "which"),
    ("fra", "Les frais de port sont-ils inclus ?", "is"),  # inversion after a noun subject
    ("fra", "Le colis pourra-t-il être livré samedi ?", "can"),
    ("fra", "Quelle est la durée de la garantie ?", "what"),  # copular quel est = What is
    ("spa", "Si pago hoy, ¿cuándo llega el pedido?", "when"),  # the question starts at ¿
    ("por", "E quanto ao frete?", "none"),  # "quanto a" = as for
    ("rus", "Можно ли оплатить картой?", "can"),
    ("tur", "KARGO ÜCRETSİZ Mİ?", "is"),  # Turkish upper case: İ -> i, I -> ı
    ("tur", "Siparişimi iptal edebilir miyim?", "can"),  # -ebil- before the particle
    ("zho", "你们周末营业吗？", "is"),
    ("zho", "我可以退货吗？", "can"),
    ("zho", "那运费呢？", "none"),
    ("ara", "هل يمكنني إلغاء الطلب؟", "can"),
    ("fas", "چرا سفارش من دیر رسید؟", "why"),
])
def test_rules_on_constructed_questions(language: str, question: str, expected: str) -> None:
    assert classify(question, language) == expected


def test_published_names_only_for_covered_languages() -> None:
    words = question_words()
    assert question_word_type("What is Tor?", "eng") == words.class_names["what"] == "What"
    assert question_word_type("Why?", "eng") == "Why"
    uncovered = sorted(set(words.languages) - set(words.coverage))
    assert uncovered and all(question_word_type("Why?", language) is None for language in uncovered)
    assert question_word_type("Why?", "xho") is None
    with pytest.raises(ValueError, match="xho"):
        classify("Why?", "xho")


def test_a_data_file_is_read_as_given() -> None:
    words = QuestionWords.from_toml("""
[coverage]
tst = 1.0
[classes]
what = "What"
is = "Is/are/do/does"
can = "Can"
none = "No Question Word"
[languages.tst]
modals = ["may"]
[languages.tst.front]
what = ["wot"]
yesno = ["ist"]
""")
    assert words.question_word_type("Wot happened?", "tst") == "What"
    assert words.classify("Ist it may open?", "tst") == "is"  # the modal window is [0, 0] by default
    assert words.classify("May it open today?", "tst") == "can"  # bare question mark, modal first
    assert words.classify("Open today", "tst") == "none"


def test_the_indexed_phrase_tables_find_what_a_scan_of_the_whole_table_finds() -> None:
    """``PhraseTable.longest`` (candidates by first token) against the plain scan in table order,
    at every token of every labelled fixture question, in every language with word lists."""
    from webfaq_stream.domain.question_words import _Match, _phrase_at

    def scan(entries, tokens, i):
        best = None
        for phrase, cls in entries:
            if (best is None or len(phrase) > best.length) and _phrase_at(phrase, tokens, i):
                best = _Match(cls, i, len(phrase))
        return best

    checked = 0
    for row in labelled():
        rules = question_words().languages[row["language"]]
        tokens, _ = rules.tokens(rules.normalize(fixture_questions(row["source"])[row["ref"]]))
        for i in range(len(tokens)):
            for table in (rules.front, rules.anywhere):
                assert table.longest(tokens, i) == scan(table.entries, tokens, i)
                checked += 1
    assert checked > 10_000
