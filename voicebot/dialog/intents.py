"""What does the caller want? A small, explainable intent matcher over flows/intents/.

Why not a trained model: the district's staff must be able to read and extend what the
help line understands (flows/intents/<language>.toml), classification has to stay far
below a millisecond, and the examples number in the hundreds, not the millions.

How it works, in four steps:

1. ``normalize`` folds case, accents, punctuation, fillers and known recogniser errors.
2. Words are put into a canonical form: synonyms from the data files ("son", "kid" ->
   "child"), a light plural stemmer, joined or split words ("web site", "forgotpassword")
   and, for words the examples never use, the closest known word within one or two
   typing errors (rapidfuzz, OSA distance: "pasword", "activaton").
3. Each example and keyword becomes a set of words and word pairs, weighted by how
   few intents use them (a word every intent uses says little; a word only one example
   uses is thin evidence). An intent's score mixes two views of the utterance:
   the cosine similarity with its closest example (found through an inverted index, so
   only examples sharing a word are visited) and how much of the utterance its
   examples know between them (so "says" from one example and "invalid" from another
   add up). A keyword found inside the utterance, even with one extra word inside it,
   scores by the share of the utterance it covers, plus ``KEYWORD_FLOOR``: "... just
   get me a representative" is "agent" however long.
4. The best intent's score, lowered when the runner-up is close, is the confidence.
   Below ``UNKNOWN_BELOW`` the answer is "unknown"; a weak out_of_scope guess too.

Pure Python (no Flask, Twilio, Redis or SQL), deterministic, and read-only after
loading, so one matcher is shared by all threads.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import OSA

from voicebot.dialog.normalize import fold, normalize, plain_words, replace_phrases, word_set

INTENTS: tuple[str, ...] = (
    "activation_key",
    "key_already_used",
    "registration_requirements",
    "student_number",
    "ssn_like_number",
    "ssn_last4",
    "create_account",
    "username_rules",
    "password_rules",
    "forgot_password",
    "forgot_username",
    "locked_out",
    "portal_login",
    "portal_features",
    "update_household_info",
    "state_test_scores",
    "agent",
    "repeat",
    "main_menu",
    "goodbye",
    "yes",
    "no",
    "language_spanish",
    "language_english",
    "unknown",
)
# School questions that are not about the portal (bus, lunch, snow days): the dialog
# answers them politely; `voicebot classify` prints them as "unknown".
OUT_OF_SCOPE = "out_of_scope"
AGENT = "agent"
# "Call me back": the dialog records a callback request; the catalogue calls it "agent".
CALLBACK = "callback"
# "I can't log in": the dialog asks whether it is the username, the password or a lock;
# the catalogue has no such name and calls it "locked_out", the nearest.
LOGIN_TROUBLE = "login_trouble"
# "What are your hours?": support's hours when the district has set them, and its number;
# not a catalogue topic, so "unknown" there, as before.
SUPPORT_HOURS = "support_hours"
# "I forgot both": the username and the password answers together; the catalogue has no
# such name and calls it "forgot_username", the first of the two.
FORGOT_BOTH = "forgot_both"
# "The reset email never came": support, as the help page says; the catalogue calls it
# "forgot_password", where such callers start.
RESET_FAILED = "reset_failed"
# "I didn't get the text": not a catalogue topic, so "unknown" there.
TEXT_MISSING = "text_missing"
# "Thank you" with no goodbye: the end of the call only after an answer, politeness
# elsewhere; the catalogue calls it "goodbye".
THANKS = "thanks"
# "Hang on, let me find it": not a catalogue topic, so "unknown" there.
WAIT = "wait"
# "Can you text that to me?" after an answer: not a catalogue topic, so "unknown" there.
TEXT_ME = "text_me"
# "Please stop texting me": how to opt out; not a catalogue topic, so "unknown" there.
STOP_TEXTS = "stop_texts"
# "I gave the wrong student number": not a catalogue topic, so "unknown" there.
START_OVER = "start_over"
# "Tell me more" after an answer said in short: the rest of it; "unknown" in the catalogue.
MORE = "more"
# At the code question: "I typed it wrong" (the same question again, no try spent) and
# "it's a landline, call me with it" (the code said in a phone call): "unknown" elsewhere.
RETYPE = "retype"
CODE_BY_CALL = "code_by_call"
# "I don't have that phone any more": the code only goes to the phone on file; "unknown"
# elsewhere.
PHONE_CHANGED = "phone_changed"
# Never said: the engine's reading of text_missing when a code text is known not to have
# arrived (a question's `on` may lead it elsewhere). No examples.
TEXT_UNDELIVERED = "text_undelivered"
# A Parent Portal question the district's help page does not answer (several children,
# a second guardian, custody, an app, a browser): said plainly, with a person offered;
# the catalogue calls that "support".
NO_ANSWER = "no_answer"
# Short answers: they count only as a short reply ("yes", "no thanks"), never as the
# reading of a long opening ("hi yes so I was trying to get into the portal ...").
SHORT_ANSWERS = frozenset({"yes", "no"})
SHORT_REPLY_WORDS = 7
UNKNOWN = "unknown"
# The names `voicebot classify` prints: the catalogue's, and "support" for a portal question
# the help page does not answer.
CATALOGUE: tuple[str, ...] = (*INTENTS, "support")
KNOWN_INTENTS: frozenset[str] = frozenset(INTENTS) | {
    OUT_OF_SCOPE,
    CALLBACK,
    LOGIN_TROUBLE,
    SUPPORT_HOURS,
    FORGOT_BOTH,
    RESET_FAILED,
    TEXT_MISSING,
    THANKS,
    WAIT,
    TEXT_ME,
    STOP_TEXTS,
    START_OVER,
    MORE,
    RETYPE,
    CODE_BY_CALL,
    PHONE_CHANGED,
    TEXT_UNDELIVERED,
    NO_ANSWER,
}
PUBLIC = {
    OUT_OF_SCOPE: UNKNOWN,
    CALLBACK: AGENT,
    LOGIN_TROUBLE: "locked_out",
    SUPPORT_HOURS: UNKNOWN,
    FORGOT_BOTH: "forgot_username",
    RESET_FAILED: "forgot_password",
    TEXT_MISSING: UNKNOWN,
    THANKS: "goodbye",
    WAIT: UNKNOWN,
    TEXT_ME: UNKNOWN,
    STOP_TEXTS: UNKNOWN,
    START_OVER: UNKNOWN,
    MORE: UNKNOWN,
    RETYPE: UNKNOWN,
    CODE_BY_CALL: UNKNOWN,
    PHONE_CHANGED: UNKNOWN,
    TEXT_UNDELIVERED: UNKNOWN,
    NO_ANSWER: "support",
}

# Under this the dialog asks "Did you want help with X?" rather than answering.
# Measured over ~520 labelled utterances (the dev set, tests/data/intents-heldout.tsv
# and private probes) that were not classified unknown: 2% of the right answers score
# below 0.55 (they cost one "yes"), and 4 of the 6 wrong ones do (they get a question
# instead of a wrong answer). 0.65 would double the needless questions and catch no
# more; 0.5 would let half the wrong answers through.
CONFIRM_BELOW: float = 0.55
# Under this the best guess is too weak to even ask about.
UNKNOWN_BELOW: float = 0.34
# An intent the question expects is taken when it scores within this of the best one.
CONTEXT_MARGIN: float = 0.15
# Weight of "how much of the utterance this intent's examples know" against the best
# single example.
COVERAGE_SHARE = 0.45
# Words that turn a keyword around: "I don't need a person" asks for none.
NEGATIONS = frozenset({"not", "no", "dont", "never", "without", "nunca", "sin"})
# A keyword found inside the utterance scores at least this (plus its share of it).
KEYWORD_FLOOR: float = 0.2
# A keyword lifts an utterance only if one of its words or pairs is used by at most
# this many intents.
SPECIFIC_DF = 2
# Extra words allowed inside a keyword phrase found in the utterance.
KEYWORD_GAPS = 1
# How much a close runner-up lowers the confidence: full score once the lead is this big.
CLEAR_LEAD: float = 0.2

# A clause's reading is a need of its own at this score (a clause put as the problem, at
# the lower one), when the whole utterance supports it at least WHOLE_SUPPORT (a clause put
# as the problem needs no such support): "what does that mean" after a sentence about a
# used key is no question about usernames.
NEED_MIN: float = 0.6
PROBLEM_NEED_MIN: float = 0.45
# "No answer here" and "not the portal" from one clause of several must be clear: a vague
# clause ("I still can't get in") must not hide the request the help line can answer.
OTHER_NEED_MIN: float = 0.75
OTHER_NEED_WORDS = 3
# Readings that end alike: "no answer here", "not the portal" and "the reset did not work"
# all hand the caller to a person (or the school).
_ALIKE = (frozenset({NO_ANSWER, OUT_OF_SCOPE}), frozenset({NO_ANSWER, RESET_FAILED}))
WHOLE_SUPPORT: float = 0.28
# Punctuation that ends a clause, before the words are normalised away.
_CLAUSE_END = re.compile(r"[,.;:!?\n]+")

MAX_INPUT_CHARS = 400  # longer speech or texts are cut: the question is at the start
MAX_TOKENS = 60

# Words too common to tell intents apart: left out of the comparison entirely.
STOPWORDS = word_set(
    "the a an my i to of is it its me for in on at and or be am are was this that im "
    "our your his her their we us with from as so just el la los las de del mi mis un "
    "una y o en lo le se al es su sus"
)
FUZZY_MIN_LENGTH = 5  # shorter words are too easily another real word ("dame", "dale")
FUZZY_MAX_LENGTH = 24  # longer "words" are noise (or an attack), not a typo
# Weights of words no example uses, as a share of the weight of the most telling word:
# an unknown word is evidence the caller talks about something else; digits ("1234")
# say little about the topic.
OOV_SHARE = 0.5
# The weight of a word that only k examples use is scaled by min(1, base + step * k).
RARE_BASE = 0.4
RARE_STEP = 0.3
NUMBER_SHARE = 0.15
BIGRAM_SCALE = 0.8


class IntentDataError(ValueError):
    """flows/intents/ is missing or malformed: the message names the file and key."""


@dataclass(frozen=True)
class IntentMatch:
    """One classification: the intent, a confidence in 0..1 and the language seen."""

    intent: str
    score: float
    language: str | None
    # Every intent's raw score for the whole utterance: what the clauses of a long one are
    # weighed against (needs), without scoring the whole again.
    ranked: tuple[tuple[str, float], ...] = field(default=(), compare=False, repr=False)

    @property
    def public_intent(self) -> str:
        """The catalogue name: out_of_scope is "unknown", callback is "agent"."""
        return PUBLIC.get(self.intent, self.intent)


@dataclass(frozen=True)
class Need:
    """One request found in a clause of a longer utterance ("... but now I forgot my
    password"): the intent, its score in that clause, and whether the caller put it as
    the problem that blocks them (after "but", "now", "it wants ...")."""

    intent: str
    score: float
    problem: bool = False

    @property
    def public_intent(self) -> str:
        return PUBLIC.get(self.intent, self.intent)


@dataclass(frozen=True)
class IntentFile:
    """The contents of one flows/intents/<language>.toml."""

    path: str
    language: str
    language_words: tuple[str, ...] = ()
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    examples: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    joiners: tuple[str, ...] = ()  # [needs] joiners: words between two requests
    problem_words: tuple[str, ...] = ()  # [needs] problem_words: the request that blocks


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise IntentDataError(f"{where}: expected a list of quoted phrases")
    return tuple(value)


def load_intent_file(path: Path) -> IntentFile:
    """Read and check one data file, naming the file and key in any error."""
    name = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise IntentDataError(f"{name}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise IntentDataError(f"{name}: not valid TOML: {exc}") from exc
    language = raw.get("language")
    if not isinstance(language, str) or not language:
        raise IntentDataError(f'{name}: language: missing (e.g. language = "en")')
    synonyms_raw = raw.get("synonyms", {})
    if not isinstance(synonyms_raw, dict):
        raise IntentDataError(f"{name}: synonyms: expected a table")
    synonyms = {str(k): _strings(v, f"{name}: synonyms.{k}") for k, v in synonyms_raw.items()}
    intents_raw = raw.get("intents", {})
    if not isinstance(intents_raw, dict):
        raise IntentDataError(f"{name}: intents: expected [intents.NAME] tables")
    examples: dict[str, tuple[str, ...]] = {}
    keywords: dict[str, tuple[str, ...]] = {}
    for intent, spec in intents_raw.items():
        where = f"{name}: intents.{intent}"
        if intent not in KNOWN_INTENTS or intent == UNKNOWN:
            known = ", ".join(sorted(KNOWN_INTENTS - {UNKNOWN}))
            raise IntentDataError(f"{where}: unknown intent (known: {known})")
        if not isinstance(spec, dict):
            raise IntentDataError(f"{where}: expected a table with examples and keywords")
        extra = set(spec) - {"examples", "keywords"}
        if extra:
            raise IntentDataError(f"{where}.{sorted(extra)[0]}: unknown key")
        examples[intent] = _strings(spec.get("examples"), f"{where}.examples")
        keywords[intent] = _strings(spec.get("keywords"), f"{where}.keywords")
    needs = raw.get("needs", {})
    if not isinstance(needs, dict) or set(needs) - {"joiners", "problem_words"}:
        raise IntentDataError(f"{name}: needs: expected a table of joiners and problem_words")
    return IntentFile(
        path=name,
        language=language,
        language_words=_strings(raw.get("language_words"), f"{name}: language_words"),
        synonyms=synonyms,
        examples=examples,
        keywords=keywords,
        joiners=_strings(needs.get("joiners"), f"{name}: needs.joiners"),
        problem_words=_strings(needs.get("problem_words"), f"{name}: needs.problem_words"),
    )


def _contains(words: Sequence[str], start: int, phrase: tuple[str, ...]) -> bool:
    """Does `phrase` occur at `start`, in order, with at most one extra word inside?

    Speech and texts insert words: "what information do I need" holds "what do I need".
    """
    if len(phrase) == 1:
        return True
    gaps = 0
    i = start + 1
    for word in phrase[1:]:
        while i < len(words) and words[i] != word:
            gaps += 1
            if gaps > KEYWORD_GAPS:
                return False
            i += 1
        if i >= len(words):
            return False
        i += 1
    return True


def _stem(token: str) -> str:
    """A light plural stemmer, the same for examples and callers ("keys" -> "key")."""
    if len(token) > 4 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        if token.endswith("ies") and len(token) > 5:
            return token[:-3] + "y"
        return token[:-1]
    return token


@dataclass(frozen=True)
class _Entry:
    intent: str
    text: str
    keyword: tuple[str, ...] | None  # the keyword's words, for containment checks
    norm: float
    keyword_weight: float = 0.0  # sum of squared weights of the keyword's words


# (intent, text, canonical words, is a keyword): one example or keyword as read
_Raw = tuple[str, str, tuple[str, ...], bool]


class IntentMatcher:
    """Classifies caller utterances with the examples and keywords of flows/intents/."""

    def __init__(self, files: Sequence[IntentFile]) -> None:
        if not files:
            raise IntentDataError("no intent files (flows/intents/<language>.toml)")
        self.languages = tuple(f.language for f in files)
        self._synonyms = self._build_synonyms(files)
        self._longest_synonym = max((len(k) for k in self._synonyms), default=1)
        raw_entries = self._read_entries(files)
        spread = self._learn_weights(raw_entries)
        self._index(raw_entries, spread)
        self._learn_languages(files)
        self._correct = lru_cache(maxsize=8192)(self._correct_uncached)

    def _read_entries(self, files: Sequence[IntentFile]) -> list[_Raw]:
        """1. Every example and keyword as canonical words (no fuzzy step: this builds the
        vocabulary the fuzzy step corrects towards)."""
        raw_entries: list[_Raw] = []
        for f in files:
            for intent in sorted(set(f.examples) | set(f.keywords)):
                for text in f.examples.get(intent, ()):
                    raw_entries.append((intent, text, self._canonical(text), False))
                for text in f.keywords.get(intent, ()):
                    raw_entries.append((intent, text, self._canonical(text), True))
        counts: dict[str, int] = {}
        for _, _, words, _ in raw_entries:
            for w in words:
                counts[w] = counts.get(w, 0) + 1
        self._vocab = frozenset(counts)
        # The fuzzy step corrects towards the words of the examples and the synonyms'
        # own spellings ("passwrd" -> "password" -> whatever "password" stands for);
        # most used first, so a tie goes to the commoner word.
        spelled = {w for key in self._synonyms for w in key if w not in counts}
        self._fuzzy_vocab = [
            w
            for w in sorted(counts, key=lambda w: (-counts[w], w)) + sorted(spelled)
            if len(w) >= FUZZY_MIN_LENGTH - 1 and w.isalpha()
        ]
        self._known = self._vocab | spelled
        return raw_entries

    def _learn_weights(self, raw_entries: list[_Raw]) -> dict[str, float]:
        """2. Weights: a feature that few intents use, or that one intent uses far more
        often than the others, tells more (the effective number of intents using it is
        exp(entropy) of its share in each intent's examples). Returns that spread."""
        per_intent: dict[str, dict[str, int]] = {}
        sizes: dict[str, int] = {}
        for intent, _, words, _ in raw_entries:
            sizes[intent] = sizes.get(intent, 0) + 1
            for feat in self._features(words):
                seen_in = per_intent.setdefault(feat, {})
                seen_in[intent] = seen_in.get(intent, 0) + 1
        n = len(sizes) or 1
        self._weights: dict[str, float] = {}
        spread: dict[str, float] = {}
        for feat, seen_in in per_intent.items():
            rates = [c / sizes[i] for i, c in seen_in.items()]
            total = sum(rates)
            entropy = -sum(r / total * math.log(r / total) for r in rates)
            spread[feat] = math.exp(entropy)
            # a word only one or two examples use is thinner evidence than a common one
            support = min(1.0, RARE_BASE + RARE_STEP * sum(seen_in.values()))
            self._weights[feat] = support * math.log((n + 1) / (spread[feat] + 0.5))
        self._feature_intents = {f: tuple(sorted(seen)) for f, seen in per_intent.items()}
        top_weight = math.log((n + 1) / 1.5)
        self._oov_weight = OOV_SHARE * top_weight
        self._number_weight = NUMBER_SHARE * top_weight
        return spread

    def _index(self, raw_entries: list[_Raw], spread: dict[str, float]) -> None:
        """3. The inverted index: feature -> (entry, weight), and keywords by first word."""
        self._entries: list[_Entry] = []
        postings: dict[str, list[tuple[int, float]]] = {}
        self._keywords_by_first: dict[str, list[int]] = {}
        seen: set[tuple[str, tuple[str, ...], bool]] = set()
        for intent, text, words, is_keyword in raw_entries:
            feats = self._features(words)
            if not feats or (intent, words, is_keyword) in seen:
                continue
            seen.add((intent, words, is_keyword))
            norm = math.sqrt(sum(self._weight(f) ** 2 for f in feats))
            if norm <= 0:
                continue
            index = len(self._entries)
            content = tuple(w for w in words if w not in STOPWORDS)
            # Only a keyword with a word or pair few intents use may lift a long
            # utterance by itself ("representative" may, "username" may not).
            specific = any(spread[f] <= SPECIFIC_DF for f in feats)
            keyword = words if is_keyword and content and specific else None
            self._entries.append(_Entry(intent, text, keyword, norm, keyword_weight=norm * norm))
            for feat in feats:
                postings.setdefault(feat, []).append((index, self._weight(feat)))
            if keyword:
                self._keywords_by_first.setdefault(words[0], []).append(index)
        self._postings = {k: tuple(v) for k, v in postings.items()}

    def _learn_languages(self, files: Sequence[IntentFile]) -> None:
        """4. Language evidence: words only one language's file uses."""
        by_language: dict[str, set[str]] = {}
        for f in files:
            words = by_language.setdefault(f.language, set())
            for phrase in f.language_words:
                words.update(normalize(phrase).split())
            for phrases in (*f.examples.values(), *f.keywords.values()):
                for phrase in phrases:
                    words.update(normalize(phrase).split())
        self._language_words: dict[str, frozenset[str]] = {}
        for lang, words in by_language.items():
            others = set().union(*(w for other, w in by_language.items() if other != lang))
            self._language_words[lang] = frozenset(words - others)
        # Every word of the help line's own (examples, keywords, language words, synonyms):
        # such a word is never taken for a child's name (see knows()).
        self._own_words = frozenset().union(*by_language.values()) | self._known
        # Real words of each language are never taken for a typo ("stuff" is not
        # "staff"), and no typo is "corrected" into one ("world" is not "would").
        self._plain_words = frozenset(
            word for f in files for phrase in f.language_words for word in normalize(phrase).split()
        )
        self._fuzzy_vocab = [w for w in self._fuzzy_vocab if w not in self._plain_words]
        # (word by word, not normalised: "y" alone would be read as a yes)
        self._joiners = frozenset(w for f in files for p in f.joiners for w in plain_words(p))
        self._problem_words = frozenset(
            w for f in files for p in f.problem_words for w in plain_words(p)
        )

    # ---- loading --------------------------------------------------------------------

    @classmethod
    def from_directory(cls, path: Path) -> IntentMatcher:
        """Load every flows/intents/*.toml (one file per language)."""
        path = Path(path)
        files = sorted(path.glob("*.toml"))
        if not files:
            raise IntentDataError(f"{path}: no intent files (<language>.toml) found")
        return cls([load_intent_file(p) for p in files])

    @staticmethod
    def _build_synonyms(files: Iterable[IntentFile]) -> dict[tuple[str, ...], tuple[str, ...]]:
        table: dict[tuple[str, ...], tuple[str, ...]] = {}
        origin: dict[tuple[str, ...], str] = {}
        for f in files:
            for canonical, variants in f.synonyms.items():
                target = tuple(normalize(canonical).split())
                for variant in variants:
                    key = tuple(normalize(variant).split())
                    if not key or key == target:
                        continue
                    if key in table and table[key] != target:
                        raise IntentDataError(
                            f"{f.path}: synonyms.{canonical}: {variant!r} is already a "
                            f"synonym of {' '.join(table[key])!r} in {origin[key]}"
                        )
                    table[key] = target
                    origin[key] = f.path
        # follow chains ("pasword" -> "password" -> "contrasena"), refusing cycles
        for key in list(table):
            target, hops = table[key], 0
            while target in table and hops < 10:
                target, hops = table[target], hops + 1
            if hops >= 10:
                raise IntentDataError(f"synonyms: {' '.join(key)!r} leads round in a circle")
            table[key] = target
        return table

    # ---- text to words --------------------------------------------------------------

    def _apply_synonyms(self, tokens: list[str]) -> list[str]:
        return replace_phrases(tokens, self._synonyms, self._longest_synonym)

    def _canonical(self, text: str) -> tuple[str, ...]:
        """Examples' words: normalised, synonyms applied, plurals stemmed."""
        tokens = self._apply_synonyms(normalize(text).split())
        return tuple(_stem(t) for t in self._apply_synonyms([_stem(t) for t in tokens]))

    def _correct_uncached(self, token: str) -> tuple[str, ...]:
        """A word no example uses, as the known word(s) it most likely is; () if none."""
        if (
            not token.isalpha()
            or not FUZZY_MIN_LENGTH <= len(token) <= FUZZY_MAX_LENGTH
            or token in self._plain_words
        ):
            return ()
        for cut in range(3, len(token) - 2):  # "forgotpassword" -> "forgot password"
            left, right = _stem(token[:cut]), _stem(token[cut:])
            if left in self._known and right in self._known and len(left) > 2:
                return (left, right)
        limit = 1 if len(token) <= 6 else 2
        found = process.extractOne(
            token, self._fuzzy_vocab, scorer=OSA.distance, score_cutoff=limit
        )
        if found is None:
            return ()
        word = found[0]
        if abs(len(word) - len(token)) > limit or word[0] != token[0] and limit == 1:
            return ()
        return (word,)

    def _query_tokens(self, normalized: str) -> list[str]:
        """Caller's words in canonical form; unknown words are kept (as "?word")."""
        tokens = self._apply_synonyms(normalized.split()[:MAX_TOKENS])
        tokens = self._apply_synonyms([_stem(t) for t in tokens])
        out: list[str] = []
        i, n = 0, len(tokens)
        while i < n:
            tok = _stem(tokens[i])
            if tok in self._vocab or tok in STOPWORDS:
                out.append(tok)
            elif i + 1 < n and _stem(tok + tokens[i + 1]) in self._vocab:  # "web site"
                out.append(_stem(tok + tokens[i + 1]))
                i += 1
            else:
                fixed = self._correct(tok)
                if fixed:
                    out.extend(self._apply_synonyms(list(fixed)))
                else:
                    out.append("#" if tok.isdigit() else "?" + tok)
            i += 1
        return out

    @staticmethod
    def _features(words: Sequence[str]) -> list[str]:
        """Words and adjacent word pairs, leaving out the commonest small words."""
        content = [w for w in words if w not in STOPWORDS]
        feats = list(dict.fromkeys(content))
        feats += list(dict.fromkeys(f"{a} {b}" for a, b in zip(content, content[1:], strict=False)))
        return feats

    def _weight(self, feat: str) -> float:
        weight = self._weights.get(feat)
        if weight is not None:
            return weight * (BIGRAM_SCALE if " " in feat else 1.0)
        if " " in feat:
            return 0.0  # an unseen pair of known words adds nothing new
        return self._number_weight if feat == "#" else self._oov_weight

    # ---- classification -------------------------------------------------------------

    def scores(self, text: str) -> list[tuple[str, float]]:
        """Every intent's raw score for `text`, best first: to explain a result."""
        normalized = normalize(text[:MAX_INPUT_CHARS]) if isinstance(text, str) else ""
        return self._scores(self._query_tokens(normalized)) if normalized else []

    def _scores(self, tokens: list[str], hits: set[str] | None = None) -> list[tuple[str, float]]:
        """Every intent's score, best first; ``hits`` collects the intents one of whose
        keywords of two words or more the utterance holds, not just after a "not" or "no"
        ("I don't need a person")."""
        feats = self._features(tokens)
        weights = {f: self._weight(f) for f in feats}
        qnorm = math.sqrt(sum(w * w for w in weights.values()))
        if qnorm <= 0:
            return []
        dots: dict[int, float] = {}
        for feat in feats:
            posting = self._postings.get(feat)
            if posting is None:
                continue
            weight = weights[feat]
            for index, value in posting:
                dots[index] = dots.get(index, 0.0) + value * weight
        best: dict[str, float] = {}
        for index, dot in dots.items():
            entry = self._entries[index]
            score = dot / (qnorm * entry.norm)
            if score > best.get(entry.intent, 0.0):
                best[entry.intent] = score
        # How much of the utterance the intent's examples know, taken together: this
        # lets "says" from one example and "invalid" from another add up.
        covered: dict[str, float] = {}
        for feat in feats:
            for intent in self._feature_intents.get(feat, ()):
                covered[intent] = covered.get(intent, 0.0) + weights[feat] ** 2
        qsq = qnorm * qnorm
        for intent in set(best) | set(covered):
            best[intent] = (1 - COVERAGE_SHARE) * best.get(intent, 0.0) + COVERAGE_SHARE * (
                covered.get(intent, 0.0) / qsq
            )
        # keywords inside the utterance: at least KEYWORD_FLOOR, more the more they cover
        for pos, word in enumerate(tokens):
            for index in self._keywords_by_first.get(word, ()):
                entry = self._entries[index]
                kw = entry.keyword
                if kw is None or not _contains(tokens, pos, kw):
                    continue
                negated = hits is None or NEGATIONS.intersection(tokens[max(0, pos - 3) : pos])
                if hits is not None and len(kw) > 1 and not negated:
                    hits.add(entry.intent)
                share = math.sqrt(entry.keyword_weight) / qnorm
                score = KEYWORD_FLOOR + (1 - KEYWORD_FLOOR) * min(1.0, share)
                if score > best.get(entry.intent, 0.0):
                    best[entry.intent] = score
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))

    def knows(self, word: str) -> bool:
        """Whether `word` is one of the help line's own words. The unrecognised questions
        hide the roster's names only among the other words, so a pupil called Will or
        Key does not blank out "will" and "key" in every question."""
        tokens = normalize(word).split()  # none for a word in another script: not ours
        return bool(tokens) and all(token in self._own_words for token in tokens)

    def language_of(self, normalized: str) -> str | None:
        """The language most of the words belong to only; None when nothing tells."""
        counts = {lang: 0 for lang in self._language_words}
        for token in set(normalized.split()):
            if len(token) < 2:  # "y", "a", "o": too short to tell (and too easy to fake)
                continue
            for lang, words in self._language_words.items():
                if token in words:
                    counts[lang] += 1
        ranked = sorted(counts.items(), key=lambda item: -item[1])
        if not ranked or ranked[0][1] == 0:
            return None
        if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
            return None
        return ranked[0][0]

    def classify(
        self, text: str, expected: Collection[str] = (), allowed: Collection[str] | None = None
    ) -> IntentMatch:
        """The caller's intent. Never raises: anything unusable is "unknown".

        ``expected``: the intents the question asked expects (its ``on`` answers). One of
        them that scores nearly as well as the best is taken instead, with its own score:
        at "enter the code", "the code didn't come" is about the texted code, although
        "code" alone is as much the activation key's word. Asking for a person always
        wins. ``allowed``: only these intents are considered (the ones that mean something
        at the question asked). A long utterance is never a bare yes or no."""
        try:
            if not isinstance(text, str):
                return IntentMatch(UNKNOWN, 0.0, None)
            normalized = normalize(text[:MAX_INPUT_CHARS])
            if not normalized:
                return IntentMatch(UNKNOWN, 0.0, None)
            language = self.language_of(normalized)
            hits: set[str] = set()
            tokens = self._query_tokens(normalized)
            ranked = whole = self._scores(tokens, hits)
            if allowed is not None:
                ranked = [(name, score) for name, score in ranked if name in allowed]
            if len(normalized.split()) > SHORT_REPLY_WORDS:
                ranked = [(name, score) for name, score in ranked if name not in SHORT_ANSWERS]
            match = self._decide(ranked, hits, expected, language)
            return replace(match, ranked=tuple(whole))
        except Exception:  # pragma: no cover - a caller must never hit an error here
            return IntentMatch(UNKNOWN, 0.0, None)

    def _decide(
        self,
        ranked: list[tuple[str, float]],
        hits: set[str],
        expected: Collection[str],
        language: str | None,
    ) -> IntentMatch:
        """The best reading of the scores, as a confidence."""
        if not ranked:
            return IntentMatch(UNKNOWN, 0.0, language)
        asked = AGENT in hits and CALLBACK not in hits  # "have a person call me": a callback
        person = dict(ranked).get(AGENT) if asked else None
        if person is not None:
            # "... I can't log in, get me a person": asked in so many words, a person wins
            # over whatever else a long sentence is about.
            return IntentMatch(AGENT, round(max(min(1.0, person), CONFIRM_BELOW), 4), language)
        intent, top = ranked[0]
        if expected and intent not in expected and intent not in (AGENT, CALLBACK):
            for name, score in ranked[1:]:
                if score < max(UNKNOWN_BELOW, top - CONTEXT_MARGIN):
                    break
                if name in expected:
                    return IntentMatch(name, round(min(1.0, score), 4), language)
        # Readings that end alike (a person, or the school): one close behind the other
        # takes nothing from the confidence that it is one of them.
        rivals = [score for name, score in ranked[1:] if {name, intent} not in _ALIKE]
        second = rivals[0] if rivals else 0.0
        if top < UNKNOWN_BELOW:
            return IntentMatch(UNKNOWN, round(top, 4), language)
        lead = min(1.0, (top - second) / CLEAR_LEAD)
        confidence = round(min(1.0, top) * (0.6 + 0.4 * lead), 4)
        if intent in (OUT_OF_SCOPE, NO_ANSWER, STOP_TEXTS) and confidence < CONFIRM_BELOW:
            # "Did you want help with something other than the portal?" is no question to
            # ask: a weak out-of-scope (or no-answer) guess is simply not understood.
            return IntentMatch(UNKNOWN, confidence, language)
        return IntentMatch(intent, confidence, language)

    # ---- several needs in one breath ---------------------------------------------------

    def clauses(self, text: str) -> list[tuple[str, bool]]:
        """The clauses of an utterance, split at punctuation and at joining words ("but",
        "and", "pero", "y"), each normalised, with whether it is put as the problem."""
        out: list[tuple[str, bool]] = []
        for piece in _CLAUSE_END.split(text[:MAX_INPUT_CHARS]):
            words: list[str] = []
            problem = False
            for word in normalize(piece).split():
                if word in self._joiners:
                    if words:
                        out.append((" ".join(words), problem))
                    words, problem = [], word in self._problem_words
                    continue
                problem = problem or word in self._problem_words
                words.append(word)
            if words:
                out.append((" ".join(words), problem))
        return out

    def _may_have_clauses(self, text: str) -> bool:
        """Punctuation inside, or a joining word: only then is splitting worth its cost."""
        inner = text[:MAX_INPUT_CHARS].strip().rstrip(".!?")
        if _CLAUSE_END.search(inner):
            return True
        return not self._joiners.isdisjoint(fold(inner).split())

    def _clause(self, normalized: str) -> IntentMatch:
        """One clause's reading: as classify, on words normalised already."""
        hits: set[str] = set()
        ranked = self._scores(self._query_tokens(normalized), hits)
        if len(normalized.split()) > SHORT_REPLY_WORDS:
            ranked = [(name, score) for name, score in ranked if name not in SHORT_ANSWERS]
        return self._decide(ranked, hits, (), None)

    def needs(self, text: str, whole: Sequence[tuple[str, float]] = ()) -> list[Need]:
        """Every request an utterance makes, one per clause that reads clearly as one and
        that the whole utterance supports, strongest first; none for a one-clause one.
        ``whole``: the whole utterance's scores, when classify has worked them out."""
        try:
            if not isinstance(text, str) or not self._may_have_clauses(text):
                return []  # one clause: nothing to split (most answers, cheaply)
            clauses = self.clauses(text)
            if len(clauses) < 2:
                return []
            support = dict(whole or self.scores(text))
            found: dict[str, Need] = {}
            for clause, problem in clauses:
                match = self._clause(clause)
                least = PROBLEM_NEED_MIN if problem else NEED_MIN
                if match.intent in (NO_ANSWER, OUT_OF_SCOPE):
                    # a question of its own, not a fragment ("... and email in the portal")
                    words = [w for w in clause.split() if w not in STOPWORDS]
                    least = OTHER_NEED_MIN if len(words) >= OTHER_NEED_WORDS else 2.0
                supported = problem or support.get(match.intent, 0.0) >= WHOLE_SUPPORT
                if match.score < least or not supported:
                    continue
                known = found.get(match.intent)
                if known is None or (match.score, problem) > (known.score, known.problem):
                    found[match.intent] = Need(match.intent, match.score, problem)
            return sorted(found.values(), key=lambda need: (-need.score, need.intent))
        except Exception:  # pragma: no cover - a caller must never hit an error here
            return []
