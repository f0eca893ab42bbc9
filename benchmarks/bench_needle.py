"""Does the local backend read long documents? A needle-in-a-haystack ranking benchmark.

Run: .venv/bin/python benchmarks/bench_needle.py [--queries 60] [--seed 1] [--quick]

Each case is one query about an invented place, one long document (about 1,500 words about the
place's town, in filler sentences of 10 to 50 words) whose one answering sentence sits at a depth drawn
between word 300 and the end, and 20 short distractors that share the query's words without
answering it. ``topic`` distractors speak of the same place (its opening hours, its gardens);
``mixed`` ones are half those and half the same fact about other places of the same kind (the
architect of another bridge), which a lexical or topical match cannot tell apart.

Printed per setting of the packaged all-MiniLM-L6-v2: recall@1 and MRR of the long document
(the only one that answers), and model tokens read per document token (``usage.total_tokens``
over the documents' own token count). The last line ranks the answering sentence alone among
the distractors: the ceiling a reader of passages could reach. Figures only, no pass/fail.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import dataclass

from multirerank.backends.local import LocalBackend

KINDS = ["bridge", "library", "observatory", "lighthouse", "museum", "dam", "opera house", "market hall"]
SURNAMES = ["Halvorsen", "Marlowe", "Okafor", "Brennan", "Castellane", "Ilves", "Moravec", "Tanaka"]
SURNAMES += ["Quist", "Varga", "Lindqvist", "Ferreira", "Nakamura", "Abernethy", "Dubois", "Kowalczyk"]
FIRST = ["Ines", "Tomas", "Adaeze", "Pieter", "Mirela", "Jonas", "Yuki", "Rosalind", "Emil", "Farah"]
TOWNS = ["Eskerby", "Valdoria", "Port Linnet", "Kessington", "Morrowgate", "Tallis Reach", "Orvieto Bay"]
MATERIALS = ["grey granite", "red brick", "local limestone", "reinforced concrete", "oak and iron"]

# Facts a query asks for: (question, answer sentence, a same-fact sentence about another place).
FACTS = [
    ("Who designed the {place}?", "The {place} was designed by the architect {person}."),
    ("When was the {place} completed?", "Work on the {place} was completed in the spring of {year}."),
    ("What is the {place} built from?", "The {place} is built from {material} brought by barge."),
    ("Who paid for the {place}?", "The money for the {place} came from {person}, a shipping merchant."),
    ("How many people can the {place} hold?", "The {place} can hold {count} people at one time."),
]
# Sentences that share a query's words about the same place but answer nothing.
TOPIC = [
    "The {place} is open to visitors every day except Monday.",
    "Tickets for the {place} are sold at the small kiosk by the gate.",
    "The gardens around the {place} were designed for quiet evening walks.",
    "A guided tour of the {place} takes about an hour and is given in three languages.",
    "Photographs of the {place} appear on many postcards sold in {town}.",
    "Local children often draw the {place} in their school art classes.",
    "The {place} was repainted last year after complaints about peeling paint.",
    "Many people ask who looks after the {place} during the winter storms.",
    "The {place} is lit with coloured lamps during the harvest festival.",
    "A model of the {place} stands in the window of the town library.",
    "Visitors say the {place} is the best place to watch the sunset in {town}.",
    "The {place} has a small cafe that sells coffee and apple cake.",
]
# Filler about the town: weather, markets, farming, schools, transport, festivals.
FILLER = [
    "Winters in {town} are long, and snow often closes the mountain road for weeks.",
    "The weekly market in {town} sells cheese, smoked fish and wool from the hill farms.",
    "Most families in the valley keep a few sheep and grow potatoes and barley.",
    "The old school was rebuilt after a fire and now teaches about two hundred children.",
    "A ferry crosses the fjord twice a day, weather permitting, carrying cars and post.",
    "Every August the town holds a fiddle festival that fills every guest house.",
    "The river freezes in January, and skaters race on it when the ice is thick enough.",
    "Fishing boats leave the harbour before dawn and return with cod and herring.",
    "The town council meets on the first Tuesday of each month in the parish hall.",
    "A narrow railway once carried ore from the mines, but it closed in the sixties.",
    "Tourists come in summer to walk the coastal path and watch the puffins nest.",
    "The bakery on the square is famous for its cardamom buns and rye loaves.",
    "Storms from the west can bring down power lines and cut off the outer farms.",
    "The church bells ring at noon, a habit kept since the plague years.",
    "In spring the meadows above the town turn yellow with wild flowers.",
    "Young people often leave for the city to study and return to raise their families.",
    "The harbour master keeps a record of every ship that has docked for a century.",
    "A small hospital serves the whole district, with a helicopter for emergencies.",
    "Wolves have not been seen in the forests for a generation, though bears remain.",
    "The local dialect has words for snow that visitors find impossible to pronounce.",
    "Trade with the southern ports grew quickly once the coast road was paved.",
    "The museum of fishing tells the story of the great storm that sank forty boats.",
    "Housing is scarce, and new cabins are built each year on the edge of the forest.",
    "Elections in the district are decided by a handful of votes more often than not.",
    "Although the harbour in {town} has silted up over the last century and the larger trawlers now "
    "land their catch further down the coast, the old warehouses along the quay have been turned "
    "into workshops, a brewery and a school for boat builders.",
    "When the mines closed, many families expected the town to empty, but the arrival of a fish "
    "processing plant, followed some years later by a call centre for a national bank, kept most of "
    "them in the valley.",
    "Summer visitors who arrive without a booking are often surprised to find that the only hotel is "
    "full for weeks, and the tourist office keeps a list of farmhouses that will take guests for a "
    "night or two.",
    "The road over the pass, which was built by hand in the eighteen-nineties and widened only once, "
    "is closed by snow for much of the winter, and the ferry then becomes the only way in or out.",
    "The {place} can be seen from almost every street in {town}.",
    "Many visitors to {town} start their day with a walk past the {place}.",
]


@dataclass(frozen=True)
class Case:
    query: str
    answer: str
    documents: list[str]  # documents[0] is the long one, the only one that answers


def _place(chooser: random.Random) -> tuple[str, str]:
    kind = chooser.choice(KINDS)
    return f"{chooser.choice(SURNAMES)} {kind.title()}", kind


def _fill(template: str, chooser: random.Random, **names: str) -> str:
    values = {
        "person": f"{chooser.choice(FIRST)} {chooser.choice(SURNAMES)}",
        "year": str(chooser.randrange(1850, 1990)),
        "material": chooser.choice(MATERIALS),
        "count": str(chooser.randrange(3, 60) * 50),
        **names,
    }
    return template.format(**values)


def make_case(chooser: random.Random, mixed: bool, words: int = 1500, distractors: int = 20) -> Case:
    place, kind = _place(chooser)
    town = chooser.choice(TOWNS)
    question, answer_template = chooser.choice(FACTS)
    query = question.format(place=place)
    answer = _fill(answer_template, chooser, place=place)
    sentences: list[str] = []
    while sum(len(sentence.split()) for sentence in sentences) < words:
        sentences.append(_fill(chooser.choice(FILLER), chooser, place=place, town=town))
    # The answer goes after a sentence boundary past word 300 (of 1,500), at a depth drawn uniformly.
    depth = chooser.randrange(min(300, words // 5), words)
    position, seen = 0, 0
    while seen < depth and position < len(sentences):
        seen += len(sentences[position].split())
        position += 1
    sentences.insert(position, answer)
    short = [_fill(chooser.choice(TOPIC), chooser, place=place, town=town) for _ in range(distractors)]
    if mixed:
        for slot in range(0, distractors, 2):
            other = place
            while other == place:
                other = f"{chooser.choice(SURNAMES)} {kind.title()}"
            short[slot] = _fill(answer_template, chooser, place=other)
    return Case(query, answer, [" ".join(sentences), *short])


def run(backend: LocalBackend, cases: list[Case]) -> tuple[float, float, float, float]:
    """recall@1, MRR, tokens read per document token, seconds per case."""
    tokenizer = backend._loaded().tokenizer
    ranks: list[int] = []
    read = own = 0
    started = time.perf_counter()
    for case in cases:
        result = backend.rerank_batch(case.query, case.documents, None)
        scores = dict(result.scores)
        ranks.append(1 + sum(score > scores[0] for index, score in scores.items() if index))
        read += result.usage.total_tokens or 0
    elapsed = time.perf_counter() - started
    for case in cases:
        own += sum(len(ids) for ids in tokenizer(case.documents, add_special_tokens=False)["input_ids"])
    recall = sum(rank == 1 for rank in ranks) / len(ranks)
    mrr = statistics.fmean(1 / rank for rank in ranks)
    return recall, mrr, read / own, elapsed / len(cases)


def sentence_alone(backend: LocalBackend, cases: list[Case]) -> float:
    """How often the answering sentence on its own outranks every distractor."""
    first = 0
    for case in cases:
        scores = dict(backend.rerank_batch(case.query, [case.answer, *case.documents[1:]], None).scores)
        first += all(scores[0] > score for index, score in scores.items() if index)
    return first / len(cases)


SETTINGS: list[tuple[str, dict[str, object]]] = [
    ("default (24-token passages, stride 22)", {}),
    ("window 24, stride 18", {"window_tokens": 24, "window_stride": 18}),
    ("window 32, stride 24", {"window_tokens": 32, "window_stride": 24}),
    ("window 64, stride 48", {"window_tokens": 64, "window_stride": 48}),
    ("window 254, stride 127 (like the old windows)", {"window_tokens": 254, "window_stride": 127}),
    ("default, aggregate mean-top2", {"aggregate": "mean-top2"}),
    ("truncate", {"long_documents": "truncate"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--queries", type=int, default=60, help="cases per distractor kind")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--quick", action="store_true", help="the default setting only")
    parser.add_argument("--settings", help="comma-separated numbers of the settings to run (0: the default)")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the answer-sentence-alone line")
    args = parser.parse_args()
    chooser = random.Random(args.seed)
    suites = {
        kind: [make_case(chooser, kind == "mixed") for _ in range(args.queries)]
        for kind in ("topic", "mixed")
    }
    settings = SETTINGS[:1] if args.quick else SETTINGS
    if args.settings:
        settings = [SETTINGS[int(number)] for number in args.settings.split(",")]
    print(
        f"needle benchmark: {args.queries} cases per distractor kind, 1 long + 20 short documents each, "
        f"seed {args.seed}, dtype {args.dtype}"
    )
    print(
        f"{'setting':42} {'distractors':11} {'recall@1':>8} {'MRR':>6} {'tokens/doc token':>16} {'s/case':>7}"
    )
    for label, options in settings:
        backend = LocalBackend(dtype=args.dtype, **options)  # type: ignore[arg-type]
        for kind, cases in suites.items():
            recall, mrr, ratio, seconds = run(backend, cases)
            print(f"{label:42} {kind:11} {recall:8.2f} {mrr:6.3f} {ratio:16.2f} {seconds:7.3f}")
        backend.close()
    if args.no_ceiling:
        return
    backend = LocalBackend(dtype=args.dtype)
    for kind, cases in suites.items():
        print(f"answer sentence alone ranked first ({kind}): {sentence_alone(backend, cases):.2f}")


if __name__ == "__main__":
    main()
