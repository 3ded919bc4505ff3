"""Which language each sentence of a prompt is in, so each is read by its own voice.

A prompt is read by the voice of the conversation's language. A sentence in another language
("Para español, oprima 9" in the English greeting) is marked in the prompt, ``[es: ...]``,
and the voice channel reads it with that language's voice; texts simply drop the mark.
``voicebot flows check`` finds sentences that forgot their mark with a small, explainable
test: words only one of the languages uses, listed in flows/languages.toml.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# [es: Para español, oprima 9.] : a language code, a colon, the sentence(s), a bracket.
MARK = re.compile(r"\[([a-z]{2}):\s*([^\[\]]*?)\s*\]")
_OPENING = re.compile(r"\[\s*[a-zA-Z]{2}\s*:")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
# Letters English words do not have: a word with one is Spanish.
_SPANISH_LETTERS = frozenset("áéíóúñü¿¡")
# A sentence is said to be in another language when at least this many of its words are
# that language's own, and more of them than of the voice's language.
FOREIGN_WORDS = 2


@dataclass(frozen=True)
class Words:
    """flows/languages.toml: each language's distinctive words, and the names (products,
    buttons on the portal's pages) that are read as they are whatever the voice."""

    own: dict[str, frozenset[str]] = field(default_factory=dict)
    neutral: tuple[str, ...] = ()


def load_words(path: Path) -> Words:
    """Read the word lists; a missing file means nothing can be told apart (no check)."""
    if not path.is_file():
        return Words()
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    own = {lang: frozenset(w.lower() for w in words) for lang, words in raw["words"].items()}
    neutral = tuple(sorted((str(n) for n in raw.get("neutral", ())), key=len, reverse=True))
    return Words(own=own, neutral=neutral)


def unmark(text: str) -> str:
    """The prompt without its language marks: for texts, and for anything not read aloud."""
    return MARK.sub(lambda m: m.group(2), text)


def parts(text: str, lang: str) -> list[tuple[str, str]]:
    """(language, words) in order: the marked sentences in their language, the rest in
    ``lang``. Empty pieces are dropped and neighbours in one language joined."""
    out: list[tuple[str, str]] = []
    last = 0
    for match in MARK.finditer(text):
        out.append((lang, text[last : match.start()]))
        out.append((match.group(1), match.group(2)))
        last = match.end()
    out.append((lang, text[last:]))
    joined: list[tuple[str, str]] = []
    for piece_lang, piece in out:
        piece = " ".join(piece.split())
        if not piece:
            continue
        if joined and joined[-1][0] == piece_lang:
            joined[-1] = (piece_lang, f"{joined[-1][1]} {piece}")
        else:
            joined.append((piece_lang, piece))
    return joined


def mark_problem(text: str, languages: Iterable[str]) -> str:
    """Why the marks of a prompt are wrong ("" when they are fine): a mark for a language
    the help line does not speak, or one left open."""
    known = set(languages)
    for match in MARK.finditer(text):
        if match.group(1) not in known:
            return f"[{match.group(1)}: ...] marks a language the help line does not speak"
    if _OPENING.search(MARK.sub("", text)):
        return 'a language mark is not closed, or nests another: write "[es: words.]"'
    return ""


def sounds_like(sentence: str, voice: str, words: Words, neutral: Iterable[str] = ()) -> str:
    """The other language ``sentence`` is in, when it is not the voice's own ("" if it is,
    or cannot be told). Names (``neutral``, and the lists' own) are left out first."""
    text = sentence.lower()
    for name in (*words.neutral, *neutral):
        if name:
            text = text.replace(name.lower(), " ")
    tokens = _WORD.findall(text)
    counts: dict[str, int] = {}
    for lang, vocabulary in words.own.items():
        counts[lang] = sum(
            1
            for t in tokens
            if t in vocabulary
            or (lang == "es" and _SPANISH_LETTERS & set(t) and t not in words.own.get(voice, ()))
        )
    own = counts.get(voice, 0)
    best = max((c, lang) for lang, c in counts.items() if lang != voice) if counts else (0, "")
    return best[1] if best[0] >= FOREIGN_WORDS and best[0] > own else ""


def foreign_sentences(
    text: str, lang: str, words: Words, neutral: Iterable[str] = ()
) -> list[tuple[str, str, str]]:
    """(sentence, the voice that would read it, the language it is in) for every sentence
    read by the wrong voice."""
    names = tuple(neutral)
    found = []
    for voice, piece in parts(text, lang):
        for sentence in _SENTENCE_END.split(piece):
            other = sounds_like(sentence, voice, words, names)
            if other:
                found.append((sentence, voice, other))
    return found


def count_words(text: str) -> int:
    """Words as a listener hears them: "4 0 4" is three, "SSN-like" one."""
    return len(text.split())
