"""Build ``sample/sample-crawl.warc.gz``, the demo crawl that ``make demo`` ingests.

Contents (every page may be redistributed; see ``NOTICE``):
- the CC-BY-4.0 pages of the Web Content Extraction Benchmark (WCXB, Murrough Foley) among the
  shared fixtures (``PROVENANCE.tsv`` rows whose ``source_repo`` is
  ``Murrough-Foley/web-content-extraction-benchmark``), with the fixture URL as ``WARC-Target-URI``;
- pages written by this script: a fictional bicycle rental's FAQ in English, German, French and
  Spanish (JSON-LD FAQPage, translated question by question so cross-lingual alignment shows), a
  fictional café's FAQ in English and German as microdata, and a few pages that give no pairs
  (no FAQ markup, an HTTP 404, a FAQ whose answers fail WebFAQ's filters).

Deterministic: the same inputs give the same bytes. Run from the repository root:
``python sample/make_sample.py [--fixtures DIR] [--out sample/sample-crawl.warc.gz]``.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
from pathlib import Path

from webfaq_stream.adapters.crawl_files import Page, write_warc_file

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FIXTURES = REPO.parent / "shared" / "fixtures" / "faq-pages"
WCXB_REPO = "Murrough-Foley/web-content-extraction-benchmark"
CRAWL_DATE = "2026-11-20T12:00:00Z"

BIKE_SITE = "https://www.velonord.example"
BIKE_FAQ: dict[str, dict[str, object]] = {
    "en": {"title": "Velo Nord bike rental - frequently asked questions",
           "pairs": [
               ("How old do I have to be to rent a bike?",
                ("You must be at least 16 years old to rent a bike on your own. Younger riders are welcome "
                 "when an adult signs the rental agreement.")),
               ("Do I need to bring my own helmet?",
                ("No. Every rental includes a helmet in your size, and we clean and check each helmet after "
                 "it comes back.")),
               ("Can I return the bike at a different station?",
                "Yes. You can return the bike at any of our twelve stations in the city at no extra cost."),
               ("What happens if I get a flat tyre?",
                ("Call our hotline and a mechanic will come to you within one hour, or swap your bike at the "
                 "nearest station.")),
               ("How do I pay for the rental?",
                "You pay by card when you pick up the bike. We accept debit and credit cards, but not cash."),
               ("Are electric bikes available?",
                ("Yes, we rent electric bikes at every station. Their battery lasts for about eighty "
                 "kilometres.")),
           ]},
    "de": {"title": "Velo Nord Fahrradverleih - häufig gestellte Fragen",
           "pairs": [
               ("Wie alt muss ich sein, um ein Fahrrad zu mieten?",
                ("Sie müssen mindestens 16 Jahre alt sein, um allein ein Fahrrad zu mieten. Jüngere Fahrer "
                 "sind willkommen, wenn ein Erwachsener den Mietvertrag unterschreibt.")),
               ("Muss ich meinen eigenen Helm mitbringen?",
                ("Nein. Zu jeder Miete gehört ein Helm in Ihrer Größe, und wir reinigen und prüfen jeden Helm "
                 "nach der Rückgabe.")),
               ("Kann ich das Fahrrad an einer anderen Station zurückgeben?",
                ("Ja. Sie können das Fahrrad ohne Aufpreis an jeder unserer zwölf Stationen in der Stadt "
                 "zurückgeben.")),
               ("Was passiert, wenn ich einen Platten habe?",
                ("Rufen Sie unsere Hotline an, und ein Mechaniker kommt innerhalb einer Stunde zu Ihnen, oder "
                 "tauschen Sie Ihr Fahrrad an der nächsten Station.")),
               ("Wie bezahle ich die Miete?",
                ("Sie bezahlen bei der Abholung des Fahrrads mit Karte. Wir akzeptieren Debit- und "
                 "Kreditkarten, aber kein Bargeld.")),
               ("Gibt es auch Elektrofahrräder?",
                ("Ja, wir vermieten an jeder Station Elektrofahrräder. Ihr Akku reicht für etwa achtzig "
                 "Kilometer.")),
           ]},
    "fr": {"title": "Location de vélos Velo Nord - questions fréquentes",
           "pairs": [
               ("Quel âge faut-il avoir pour louer un vélo ?",
                ("Vous devez avoir au moins 16 ans pour louer un vélo seul. Les plus jeunes sont les bienvenus "
                 "si un adulte signe le contrat de location.")),
               ("Dois-je apporter mon propre casque ?",
                ("Non. Chaque location comprend un casque à votre taille, et nous nettoyons et vérifions "
                 "chaque casque après son retour.")),
               ("Puis-je rendre le vélo dans une autre station ?",
                ("Oui. Vous pouvez rendre le vélo dans n'importe laquelle de nos douze stations en ville, "
                 "sans frais supplémentaires.")),
               ("Que se passe-t-il si j'ai un pneu crevé ?",
                ("Appelez notre assistance et un mécanicien viendra vous aider en moins d'une heure, ou "
                 "échangez votre vélo à la station la plus proche.")),
               ("Comment puis-je payer la location ?",
                ("Vous payez par carte au moment de prendre le vélo. Nous acceptons les cartes de débit et de "
                 "crédit, mais pas les espèces.")),
               ("Proposez-vous des vélos électriques ?",
                ("Oui, nous louons des vélos électriques dans chaque station. Leur batterie tient environ "
                 "quatre-vingts kilomètres.")),
           ]},
    "es": {"title": "Alquiler de bicicletas Velo Nord - preguntas frecuentes",
           "pairs": [
               ("¿Qué edad necesito para alquilar una bicicleta?",
                ("Debes tener al menos 16 años para alquilar una bicicleta por tu cuenta. Los ciclistas más "
                 "jóvenes son bienvenidos si un adulto firma el contrato de alquiler.")),
               ("¿Tengo que llevar mi propio casco?",
                ("No. Cada alquiler incluye un casco de tu talla, y limpiamos y revisamos cada casco cuando "
                 "lo devuelves.")),
               ("¿Puedo devolver la bicicleta en otra estación?",
                ("Sí. Puedes devolver la bicicleta en cualquiera de nuestras doce estaciones de la ciudad sin "
                 "coste adicional.")),
               ("¿Qué pasa si se me pincha una rueda?",
                ("Llama a nuestra línea de asistencia y un mecánico llegará en menos de una hora, o cambia tu "
                 "bicicleta en la estación más cercana.")),
               ("¿Cómo pago el alquiler?",
                ("Pagas con tarjeta al recoger la bicicleta. Aceptamos tarjetas de débito y de crédito, pero "
                 "no efectivo.")),
               ("¿Tienen bicicletas eléctricas?",
                ("Sí, alquilamos bicicletas eléctricas en todas las estaciones. Su batería dura unos ochenta "
                 "kilómetros.")),
           ]},
}

CAFE_SITE = "https://kaffeehaus-am-markt.example"
CAFE_FAQ: dict[str, dict[str, object]] = {
    "en": {"title": "Kaffeehaus am Markt - FAQ",
           "pairs": [
               ("Do you offer plant-based milk?",
                "We offer oat, almond and soy milk for every coffee at no extra charge."),
               ("Can I reserve a table for a group?",
                "Groups of six or more can reserve a table by phone up to one week in advance."),
               ("Is the café accessible by wheelchair?",
                "The entrance has a ramp and the ground floor, including the restroom, is step-free."),
           ]},
    "de": {"title": "Kaffeehaus am Markt - Häufige Fragen",
           "pairs": [
               ("Bieten Sie pflanzliche Milch an?",
                "Wir bieten Hafer-, Mandel- und Sojamilch für jeden Kaffee ohne Aufpreis an."),
               ("Kann ich einen Tisch für eine Gruppe reservieren?",
                ("Gruppen ab sechs Personen können bis zu einer Woche im Voraus telefonisch einen Tisch "
                 "reservieren.")),
               ("Ist das Café für Rollstuhlfahrer zugänglich?",
                "Der Eingang hat eine Rampe, und das Erdgeschoss einschließlich der Toilette ist stufenlos."),
           ]},
}


def jsonld_faq_page(lang: str, title: str, pairs: list[tuple[str, str]]) -> bytes:
    """An HTML page with a JSON-LD FAQPage and the same pairs as visible text."""
    document = {"@context": "https://schema.org", "@type": "FAQPage", "mainEntity": [
        {"@type": "Question", "name": question,
         "acceptedAnswer": {"@type": "Answer", "text": f"<p>{html.escape(answer)}</p>"}}
        for question, answer in pairs]}
    visible = "\n".join(f"<h2>{html.escape(q)}</h2>\n<p>{html.escape(a)}</p>" for q, a in pairs)
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title>"
            f'<meta name="description" content="{html.escape(title)}">'
            f'<script type="application/ld+json">{json.dumps(document, ensure_ascii=False)}</script>'
            f"</head><body><h1>{html.escape(title)}</h1>\n{visible}\n</body></html>\n").encode()


def microdata_faq_page(lang: str, title: str, pairs: list[tuple[str, str]]) -> bytes:
    """An HTML page whose FAQ is schema.org microdata."""
    items = "\n".join(
        '<div itemscope itemprop="mainEntity" itemtype="https://schema.org/Question">'
        f'<h3 itemprop="name">{html.escape(q)}</h3>'
        '<div itemscope itemprop="acceptedAnswer" itemtype="https://schema.org/Answer">'
        f'<div itemprop="text"><p>{html.escape(a)}</p></div></div></div>' for q, a in pairs)
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title></head>"
            f'<body itemscope itemtype="https://schema.org/FAQPage"><h1>{html.escape(title)}</h1>\n'
            f"{items}\n</body></html>\n").encode()


def generated_pages() -> list[Page]:
    """The pages this project writes itself."""
    pages = [Page(f"{BIKE_SITE}/{lang}/faq", jsonld_faq_page(lang, str(faq["title"]), list(faq["pairs"])),
                  CRAWL_DATE) for lang, faq in BIKE_FAQ.items()]
    pages += [Page(f"{CAFE_SITE}/{lang}/fragen" if lang == "de" else f"{CAFE_SITE}/{lang}/faq",
                   microdata_faq_page(lang, str(faq["title"]), list(faq["pairs"])), CRAWL_DATE)
              for lang, faq in CAFE_FAQ.items()]
    pages.append(Page(f"{BIKE_SITE}/en/about", b"<!DOCTYPE html><html lang='en'><head><title>About us</title>"
                      b"</head><body><p>Velo Nord rents bikes since 2011.</p></body></html>", CRAWL_DATE))
    pages.append(Page(f"{BIKE_SITE}/en/old-faq", b"<html><body>Not found</body></html>", CRAWL_DATE,
                      status="404 Not Found"))
    pages.append(Page(f"{CAFE_SITE}/en/short", jsonld_faq_page("en", "Short answers", [
        ("Open on Sundays?", "Yes."),
        ("Do you sell gift cards in the café?", "Did you ask at the counter? We do, in any amount."),
    ]), CRAWL_DATE))
    return pages


def wcxb_pages(fixtures: Path) -> list[Page]:
    """The CC-BY-4.0 WCXB fixture pages, in PROVENANCE.tsv order, with their recorded URLs."""
    with (fixtures / "PROVENANCE.tsv").open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle, delimiter="\t") if row["source_repo"] == WCXB_REPO]
    return [Page(row["original_url"], (fixtures / row["file"]).read_bytes(), CRAWL_DATE) for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--out", type=Path, default=REPO / "sample" / "sample-crawl.warc.gz")
    args = parser.parse_args()
    pages = wcxb_pages(args.fixtures) + generated_pages()
    size = write_warc_file(args.out, pages)
    print(f"wrote {args.out}: {len(pages)} response records, {size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
