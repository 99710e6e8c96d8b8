"""The trap guard: cheap rules that veto a semantic hit the cosine alone would allow.

Embeddings place "can I get a refund?" and "can I not get a refund?" (or "capital of
France" and "capital of Spain", "2 tickets" and "3 tickets") very close together.
Before a semantic hit is served, both questions are compared on what changes the
answer: numbers, dates, named entities, negation, and opposite words (English and
Portuguese). Any difference vetoes the hit. Runs in microseconds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from reference_server.cache.gazetteer import ENTITY_WORDS, word_set

TrapKind = Literal["number", "date", "entity", "negation", "opposite"]

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NUMBER_WORDS = {
    # English
    "zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "fifteen": "15", "twenty": "20",
    "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "thousand": "1000", "million": "1000000",
    "billion": "1000000000", "half": "0.5", "twice": "x2", "double": "x2", "triple": "x3",
    # Portuguese
    "dois": "2", "duas": "2", "três": "3", "tres": "3", "quatro": "4", "cinco": "5",
    "seis": "6", "sete": "7", "oito": "8", "nove": "9", "dez": "10", "onze": "11", "doze": "12",
    "quinze": "15", "vinte": "20", "trinta": "30", "quarenta": "40", "cinquenta": "50", "cem": "100",
    "cento": "100", "mil": "1000", "milhão": "1000000", "milhões": "1000000", "bilhão": "1000000000",
    "metade": "0.5", "dobro": "x2", "triplo": "x3",
}  # fmt: skip
_DATE_WORDS = word_set(
    """
    january february march april june july august september october november december
    jan feb apr jun jul aug sep sept oct nov dec
    monday tuesday wednesday thursday friday saturday sunday weekend weekday
    today tomorrow yesterday tonight morning afternoon evening night week month year quarter
    spring summer autumn winter christmas easter
    janeiro fevereiro março marco abril maio junho julho agosto setembro outubro novembro dezembro
    segunda-feira terça-feira terça terca quarta-feira quarta quinta-feira quinta sexta-feira sexta sábado
    sabado domingo hoje amanhã amanha ontem manhã manha tarde noite semana mês mes ano trimestre
    primavera verão verao outono inverno natal páscoa pascoa
    """
)
_NEGATIONS_EN = word_set("not no never none nobody nothing neither nor without cannot")
_NEGATIONS_PT = word_set("não nao nunca nem nenhum nenhuma ninguém ninguem nada jamais sem")
_PORTUGUESE_MARKERS = word_set(
    "não nao é qual quais como que de da do das dos para pra em na no os as um uma você voce meu minha "
    "posso pode onde quando quanto quanta por"
)
_ENGLISH_MARKERS = word_set(
    "the is what which how of to in a an you my can i where when does do are"
)
# Opposite word stems: a stem matches itself plus a regular English or Portuguese ending
# ("enable", "enabled", "enabling"; "ativar", "ativo", "ativou"), so inflections count too.
_OPPOSITES = (
    ("increas", "decreas"), ("before", "after"), ("minimum", "maximum"), ("min", "max"),
    ("cheap", "expensive"), ("first", "last"), ("best", "worst"), ("buy", "sell"), ("bought", "sold"),
    ("enabl", "disabl"), ("start", "stop"), ("open", "clos"), ("add", "remov"), ("upload", "download"),
    ("import", "export"), ("login", "logout"), ("more", "less"), ("most", "least"), ("higher", "lower"),
    ("faster", "slower"), ("largest", "smallest"), ("biggest", "smallest"), ("old", "new"),
    ("oldest", "newest"), ("win", "los"), ("allow", "block"), ("accept", "reject"), ("encrypt", "decrypt"),
    ("subscrib", "unsubscrib"), ("install", "uninstall"), ("lock", "unlock"), ("north", "south"),
    ("east", "west"), ("hot", "cold"),
    ("aument", "diminu"), ("aument", "reduz"), ("antes", "depois"), ("mínimo", "máximo"),
    ("barat", "car"), ("primeir", "últim"), ("melhor", "pior"), ("compr", "vend"), ("ativ", "desativ"),
    ("lig", "deslig"), ("abr", "fech"), ("adicion", "remov"), ("entrada", "saída"), ("entrar", "sair"),
    ("mais", "menos"), ("maior", "menor"), ("novo", "velho"), ("nova", "velha"), ("ganh", "perd"),
    ("permit", "bloque"), ("aceit", "recus"), ("instal", "desinstal"), ("bloque", "desbloque"),
    ("norte", "sul"), ("leste", "oeste"), ("quente", "frio"),
)  # fmt: skip
_ENDINGS = frozenset(
    ["", "s", "es", "d", "ed", "ing", "est", "e", "a", "o", "i", "as", "os", "am", "ar", "er", "ir", "ei",
     "ou", "ado", "ada", "ados", "adas", "ando", "ido", "ida", "endo", "indo", "amos", "emos", "imos", "em"]
)  # fmt: skip
_SMALL_WORDS = frozenset({"i", "a", "o", "e"})


@dataclass(frozen=True)
class QueryFacts:
    """What the guard compares: the parts of a question that change its answer."""

    words: frozenset[str]
    numbers: frozenset[str]
    dates: frozenset[str]
    entities: frozenset[str]
    negated: bool


@dataclass(frozen=True)
class TrapVerdict:
    """``ok`` when the two questions may share an answer; else ``kind`` says which rule vetoed."""

    ok: bool
    kind: TrapKind | None = None


def _base_word(word: str) -> str:
    word = word.replace("’", "'")
    return word[:-2] if word.endswith("'s") else word


def _is_portuguese(words: list[str]) -> bool:
    pt = sum(w in _PORTUGUESE_MARKERS for w in words)
    en = sum(w in _ENGLISH_MARKERS for w in words)
    return pt > en or any(not c.isascii() for w in words for c in w)


def query_facts(text: str) -> QueryFacts:
    """Extract numbers, dates, entities and negation from a raw (not normalized) question."""
    text = unicodedata.normalize("NFC", text)
    raw_words = [_base_word(w) for w in _WORD.findall(text)]
    words = [w.lower() for w in raw_words]
    numbers = {n.replace(",", ".").rstrip(".") for n in _NUMBER.findall(text)}
    numbers |= {_NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS}
    dates = {w for w in words if w in _DATE_WORDS}
    sentence_starts = {0} | {m.end() for m in re.finditer(r"[.!?]\s+", text)}
    entities: set[str] = set()
    for match in _WORD.finditer(text):
        raw = _base_word(match.group())
        lower = raw.lower()
        if lower in _SMALL_WORDS or lower in _DATE_WORDS or lower in _NUMBER_WORDS:
            continue
        capitalized = raw[0].isupper() and match.start() not in sentence_starts
        acronym = len(raw) >= 2 and raw.isupper()
        alphanumeric = any(c.isdigit() for c in raw) and any(c.isalpha() for c in raw)
        if capitalized or acronym or alphanumeric or lower in ENTITY_WORDS:
            entities.add(lower)
    negations = _NEGATIONS_PT if _is_portuguese(words) else _NEGATIONS_EN
    negation_count = sum(w in negations for w in words) + sum(w.endswith("n't") for w in words)
    return QueryFacts(
        words=frozenset(words),
        numbers=frozenset(numbers),
        dates=frozenset(dates),
        entities=frozenset(entities),
        negated=negation_count % 2 == 1,
    )


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _entity_mismatch(a: QueryFacts, b: QueryFacts) -> bool:
    # A name counts as different only if the other question does not mention it at all
    # (so "france" typed in lower case still matches "France", and "VPNs" matches "VPN").
    words_a = {_singular(w) for w in a.words}
    words_b = {_singular(w) for w in b.words}
    return any(_singular(e) not in words_b for e in a.entities) or any(
        _singular(e) not in words_a for e in b.entities
    )


def _has_stem(words: frozenset[str], stem: str) -> bool:
    return any(w.startswith(stem) and w[len(stem) :] in _ENDINGS for w in words)


def _opposite_mismatch(a: QueryFacts, b: QueryFacts) -> bool:
    for pair in _OPPOSITES:
        side_a = {stem for stem in pair if _has_stem(a.words, stem)}
        side_b = {stem for stem in pair if _has_stem(b.words, stem)}
        if side_a and side_b and side_a != side_b:
            return True
    return False


def check_trap(new_query: str, cached_query: str) -> TrapVerdict:
    """Whether a semantic match between the two questions is safe to serve."""
    a, b = query_facts(new_query), query_facts(cached_query)
    if a.numbers != b.numbers:
        return TrapVerdict(False, "number")
    if a.dates != b.dates:
        return TrapVerdict(False, "date")
    if a.negated != b.negated:
        return TrapVerdict(False, "negation")
    if _entity_mismatch(a, b):
        return TrapVerdict(False, "entity")
    if _opposite_mismatch(a, b):
        return TrapVerdict(False, "opposite")
    return TrapVerdict(True)
