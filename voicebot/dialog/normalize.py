"""Text clean-up before intent matching, and spoken/keyed numbers to digits.

Callers reach us through Twilio's speech recogniser ("act of ation key", "forgot pass
word", "last for digits") or by texting ("pw", "pls", no punctuation), in English,
Spanish or both. Everything here folds those variations into one plain form so that the
intent examples in flows/intents/ need to be written only once.

Pure and cheap: no I/O, no state, never raises on any string.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence


def word_set(text: str) -> frozenset[str]:
    """The words of a space-separated list, as a set (keeps long word lists readable)."""
    return frozenset(text.split())


# Longer input is cut: nobody asks a help-line question in more than this, and the
# regular expressions below must stay cheap on a 100 KB body.
MAX_CHARS = 1000

# Tokens that carry no meaning in speech ("um") or texting.
FILLERS = word_set(
    "um umm ummm uh uhh uhhh uhm uhmm er erm err hmm hmmm hm mm mmm ah ahh eh ehh ehm "
    "emm em mhm lol"
)

# Whole answers that say yes or no without a word for it: the sounds ("uh-huh", "mm-hmm",
# otherwise dropped as fillers; "ajá") and texting's Y, N, S and "ya". Only alone: "y" is
# Spanish "and", and "mm hmm, let me see" is not a yes.
WHOLE_ANSWERS: dict[str, str] = {
    "uh huh": "yes",
    "uhuh": "yes",
    "uh hum": "yes",
    "um hum": "yes",
    "mm hmm": "yes",
    "mm hm": "yes",
    "mmhmm": "yes",
    "mhm": "yes",
    "mhmm": "yes",
    "y": "yes",
    "ya": "yeah",
    "n": "no",
    "aja": "si",  # ajá
    "s": "si",
}

# Words that open a sentence without meaning anything ("yeah so I need ..."). They are
# dropped only when something follows, so a bare "yeah" or "ok" still means yes.
LEADING_FILLERS = word_set(
    "so well yeah yea ok okay okey alright hi hello hey hola oh like basically "
    "actually bueno pues este oye mira and also"
)
# A text of nothing but these is a hello ("good evening", "buenas tardes"), not a question.
GREETINGS = word_set(
    "hi hello hey hiya there good morning afternoon evening hola buenos buenas dias tardes "
    "noches saludos"
)
# Multi-word openers, matched before the single-word ones.
_LEADING_PHRASES = (
    "good morning",
    "good afternoon",
    "good evening",
    "buenos dias",
    "buenas tardes",
    "buenas noches",
    "yes hi",
    "hi there",
    "hello there",
    "i mean",
    "you know",
    "o sea",
)

# Texting shorthand and common misspellings that fuzzy matching cannot safely guess
# (too short, or too far from the word meant).
ABBREVIATIONS: dict[str, str] = {
    "u": "you",
    "ur": "your",
    "yr": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "plez": "please",
    "pleez": "please",
    "pw": "password",
    "pwd": "password",
    "pword": "password",
    "passwd": "password",
    "passw": "password",
    "pswd": "password",
    "pass": "password",
    "acct": "account",
    "acc": "account",
    "usr": "user",
    "uname": "username",
    "thx": "thanks",
    "thnx": "thanks",
    "thanx": "thanks",
    "tks": "thanks",
    "ty": "thank you",
    "tysm": "thank you",
    "wat": "what",
    "wut": "what",
    "wht": "what",
    "whats": "what is",
    "wheres": "where is",
    "hows": "how is",
    "idk": "i dont know",
    "dunno": "dont know",
    "b4": "before",
    "num": "number",
    "nbr": "number",
    "numb": "number",
    "nmbr": "number",
    "info": "information",
    "soc": "social",
    "socials": "social",
    "rep": "representative",
    "reps": "representative",
    "convo": "conversation",
    "k": "ok",
    "kk": "ok",
    "okey": "ok",
    "okay": "ok",
    "yup": "yep",
    "yeh": "yeah",
    "yea": "yeah",
    "yah": "yeah",
    "nah": "nope",
    "naw": "nope",
    "bc": "because",
    "cuz": "because",
    "coz": "because",
    "w": "with",
    "abt": "about",
    "ppl": "people",
    "msg": "message",
    "txt": "text",
    "tmrw": "tomorrow",
    "rn": "now",
    "q": "que",
    "xq": "porque",
    "pq": "porque",
    "porq": "porque",
    "tmb": "tambien",
    "tb": "tambien",
    "x": "por",
    "d": "de",
    "cel": "celular",
    "contrasenia": "contrasena",
    "contrasenas": "contrasena",
    "passwords": "password",
    "usernames": "username",
    "keys": "key",
    "emails": "email",
    "logins": "login",
    "loging": "login",
    "logon": "login",
    "signin": "login",
    "signup": "sign up",
    "setup": "set up",
    "activations": "activation",
    "activision": "activation",
    "activacio": "activacion",
    "milestone": "milestones",
    "grandmother": "grandma",
}

# Recogniser mishearings and split or joined words. Each rule is "word|word word|word"
# (every combination of the alternatives, one slot per space; "_" is an empty slot) and
# its replacement. The longest phrase wins at each position, so an exception is written
# as a longer rule that maps to itself ("social studies" stays, "social" becomes "ssn").
_REPAIR_RULES: tuple[tuple[str, str], ...] = (
    # activation
    ("act of|a|uh|ive|iv|_ ation|asian|ashen|vation|ivation", "activation"),
    ("active|activ ation|asian|nation|vacation", "activation"),
    ("activate ion", "activation"),
    ("action|actuation|activity key", "activation key"),
    ("activa cion", "activacion"),
    ("llave de activacion", "clave de activacion"),
    # password / username / login
    ("pass|past|pas|path word|words|ward|werd|wort", "password"),
    ("user|users|usar|uzer name|names|nam", "username"),
    ("use her name", "username"),
    ("you zer name", "username"),
    ("log|logging|logged|loggin in|on|into|onto", "login"),
    ("sign|signing in|on|into", "login"),
    ("login name|names", "username"),
    ("contra sena", "contrasena"),
    ("nombre de usuario", "usuario"),
    ("e mail|mails", "email"),
    ("correo electronico", "email"),
    ("correo", "email"),
    # SSN and the SSN-like number
    ("s s n|ns", "ssn"),
    ("s s number", "ssn"),
    ("ss number|numbers|s", "ssn"),
    ("ssn|ssns s", "ssn"),
    ("ssns", "ssn"),
    ("s and n", "ssn"),
    ("essen|essence|sn|esn like", "ssn like"),
    ("s n like", "ssn like"),
    ("social security number|numbers|no|num|_", "ssn"),
    ("soc|social sec number|_", "ssn"),
    ("ssn number", "ssn"),
    ("numero de|del seguro social", "ssn"),
    ("seguro social", "ssn"),
    ("social number", "ssn"),
    ("social|socials", "ssn"),
    ("social studies|worker|workers|media|life", "social _"),
    # last four
    ("last for|fore|4|floor|far|forth|4th", "last four"),
    ("last of four|4", "last four"),
    ("four|4 digit|digets|didgets|didgits|digits", "four digits"),
    ("ultimos|ultimo|ultimas 4|cuatro", "ultimos cuatro"),
    ("4|cuatro ultimos", "cuatro ultimos"),
    # menus, repeating, people
    ("main|maine|mane|mean|man menu|many|venue|menus", "main menu"),
    ("main|maine|mane|mean|man men you|u", "main menu"),
    ("re peat", "repeat"),
    ("a gent", "agent"),
    ("hu man", "human"),
    ("real life person", "real person"),
    ("customer service|services|care|support", "customer service"),
    # portal and test scores
    ("parent|parents portable|porthole|portals|portal", "parent portal"),
    ("parent|parents port all", "parent portal"),
    ("porthole", "portal"),
    ("infinity campus", "infinite campus"),
    ("camp us", "campus"),
    ("s l d s", "slds"),
    ("mile stone|stones", "milestones"),
    ("student i d", "student id"),
    ("i d", "id"),
    ("k 12", "k12"),
    ("re enter", "reenter"),
    ("up date", "update"),
    ("house hold", "household"),
    ("espa nol", "espanol"),
    # a child's grade is context, not a question about grades ("she's in 4th grade")
    ("1|2|3|4|5|6|7|8|9|10|11|12 st|nd|rd|th grade|grader|graders", ""),
    (
        "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth"
        " grade|grader|graders",
        "",
    ),
    ("in grade 1|2|3|4|5|6|7|8|9|10|11|12|k", ""),
    ("primer|primero|segundo|tercer|tercero|cuarto|quinto|sexto|septimo|octavo grado", ""),
    ("kindergarten|kinder|prek", ""),
    ("pre k", ""),
    # spelled-out negations, so "does not work" and "doesn't work" look alike
    ("does not", "doesnt"),
    ("do not", "dont"),
    ("did not", "didnt"),
    ("is not", "isnt"),
    ("was not", "wasnt"),
    ("can not", "cant"),
    ("cannot", "cant"),
    ("will not", "wont"),
    ("i am", "im"),
)


def _expand(rule: str) -> list[str]:
    phrases = [""]
    for slot in rule.split(" "):
        options = ["" if o == "_" else o for o in slot.split("|")]
        phrases = [f"{p} {o}".strip() for p in phrases for o in options]
    return phrases


def _build_repairs() -> dict[tuple[str, ...], tuple[str, ...]]:
    table: dict[tuple[str, ...], tuple[str, ...]] = {}
    for rule, replacement in _REPAIR_RULES:
        for phrase in _expand(rule):
            words = tuple(phrase.split())
            if replacement.endswith(" _"):  # an exception: keep the words as they are
                table[words] = words
            else:
                table.setdefault(words, tuple(replacement.split()))
    return table


_REPAIRS = _build_repairs()
_LONGEST_REPAIR = max(len(k) for k in _REPAIRS)

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_HASH_DIGIT = re.compile(r"#\s*(?=\d)")
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case and strip accents (ñ -> n, é -> e): callers and recognisers vary."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _basic(text: str) -> str:
    """Fold, drop punctuation, split "last4" into "last 4"; one space between words."""
    if not isinstance(text, str):
        return ""
    text = fold(text[:MAX_CHARS])
    text = _APOSTROPHES.sub("", text)
    text = _HASH_DIGIT.sub("", text)
    text = text.replace("&", " and ").replace("#", " number ").replace("@", " at ")
    text = _NOT_WORD.sub(" ", text)
    text = _LETTER_DIGIT.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def plain_words(text: str) -> list[str]:
    """The words of `text`, folded and without punctuation: "March 14th, 2015" gives
    march, 14, th, 2015."""
    return _basic(text).split()


def is_greeting(text: str) -> bool:
    """Whether `text` only says hello, or only hesitates ("um"): no request either way (a
    bare "mhm" is a yes, though)."""
    words = plain_words(text)
    if not words or " ".join(words) in WHOLE_ANSWERS:
        return False
    return all(word in GREETINGS or word in FILLERS for word in words)


# The whole answer, not part of one: "no sé" alone is "I don't know", but "no se puede
# entrar" is a problem to solve, and "no" alone is no.
UNSURE = frozenset(
    {
        "i dont know",
        "i do not know",
        "dont know",
        "im not sure",
        "i am not sure",
        "not sure",
        "no idea",
        "no se",
        "no lo se",
        "yo no se",
        "no estoy seguro",
        "no estoy segura",
        "ni idea",
    }
)


def is_unsure(text: str) -> bool:
    """Whether the caller's whole answer is "I don't know" ("no sé")."""
    return " ".join(plain_words(text)) in UNSURE


def _repair(tokens: list[str]) -> list[str]:
    """Replace known recogniser and typing errors."""
    return replace_phrases(tokens, _REPAIRS, _LONGEST_REPAIR)


def replace_phrases(
    tokens: list[str], table: Mapping[tuple[str, ...], Sequence[str]], longest: int
) -> list[str]:
    """Replace known phrases (tuples of words), longest first, scanning left to right."""
    out: list[str] = []
    i = 0
    n = len(tokens)
    while i < n:
        for size in range(min(longest, n - i), 0, -1):
            replacement = table.get(tuple(tokens[i : i + size]))
            if replacement is not None:
                out.extend(replacement)
                i += size
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def _strip_leading(tokens: list[str]) -> list[str]:
    """Drop sentence openers ("yeah so", "good morning") while something follows them."""
    changed = True
    while changed and len(tokens) > 1:
        changed = False
        for phrase in _LEADING_PHRASES:
            words = phrase.split()
            if tokens[: len(words)] == words and len(tokens) > len(words):
                tokens = tokens[len(words) :]
                changed = True
                break
        if not changed and tokens[0] in LEADING_FILLERS and len(tokens) > 1:
            tokens = tokens[1:]
            changed = True
    return tokens


def normalize(text: str) -> str:
    """The plain form of a caller's words: what the intent examples are compared with.

    Lower-case, accents folded, punctuation gone, fillers dropped, texting shorthand
    expanded and known recogniser errors repaired ("pass word" -> "password").
    """
    try:
        basic = _basic(text)
        if not basic:
            return ""
        if basic in WHOLE_ANSWERS:
            return WHOLE_ANSWERS[basic]
        tokens = [t for t in basic.split(" ") if t not in FILLERS]
        # Repairs first ("pass word"), then shorthand ("pw"), then repairs that the
        # expanded shorthand makes possible ("whats" -> "what is", "i am" -> "im").
        tokens = _repair(tokens)
        expanded = " ".join(ABBREVIATIONS.get(t, t) for t in tokens).split()
        if expanded != tokens:
            tokens = _repair(expanded)
        tokens = _strip_leading(tokens)
        return " ".join(tokens)
    except Exception:  # pragma: no cover - a clean-up step must never break a call
        return ""


# ---- numbers -----------------------------------------------------------------------------

_DIGIT_WORDS: dict[str, str] = {
    "zero": "0",
    "cero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "uno": "1",
    "una": "1",
    "two": "2",
    "dos": "2",
    "three": "3",
    "tres": "3",
    "four": "4",
    "cuatro": "4",
    "five": "5",
    "cinco": "5",
    "six": "6",
    "seis": "6",
    "seven": "7",
    "siete": "7",
    "eight": "8",
    "ocho": "8",
    "nine": "9",
    "nueve": "9",
}
# Sound-alikes the recogniser writes for digits. Alone they are ordinary words ("for",
# "to"), so they count only inside an answer that has other digits; "oh" likewise: a
# lone "oh" is a sigh, not a zero (a lone digit is taken as a keypress by the dialog).
_WEAK_DIGITS: dict[str, str] = {
    "oh": "0",
    "o": "0",
    "won": "1",
    "to": "2",
    "too": "2",
    "tree": "3",
    "for": "4",
    "fore": "4",
    "ate": "8",
}
_TEENS: dict[str, str] = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "diez": "10",
    "once": "11",
    "doce": "12",
}
_TENS: dict[str, str] = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
}
_REPEATERS = {"double": 2, "triple": 3, "doble": 2}
# Words that may surround a number without making it something else.
_NUMBER_NOISE = word_set(
    "and y dash hyphen space comma point um uh er umm uhm hmm press oprima presione "
    "marque option opcion number numero its it is es el la the my mi"
)


SENTENCE_NUMBER_MIN = 6  # shorter, in a sentence, is more likely a year or a count


def several_numbers(words: Sequence[str]) -> bool:
    """Two groups of digits or more ("404 555 0123", "1234567 and 2345678"), not digits
    said one by one ("1 2 3 4"); `words` as plain_words gives them."""
    groups = [word for word in words if word.isdigit()]
    return len(groups) > 1 and any(len(group) > 1 for group in groups)


def number_within(text: str, shortest: int, longest: int) -> str | None:
    """A number said at the start or the end of a sentence ("her student number is
    1234567", "the code is six seven one...", "1234567 is his number"), when it has a
    length the question expects; None otherwise.

    Strict, since a wrong number costs the parent a try: one group of digits, or digits
    said one by one ("1 2 3 4 5 6 7", "one two three..."), never several groups ("404 555
    0123" is a phone number), never a weak word at its edge ("1234567 for my daughter" is
    not 12345674), and at least six digits ("born in 2015" is no student number)."""
    words = _basic(text).split(" ") if isinstance(text, str) else []
    if len(words) > 40:
        return None
    shortest = max(shortest, SENTENCE_NUMBER_MIN)
    found = ""
    parts = [words[i:] for i in range(1, len(words))] + [words[:j] for j in range(1, len(words))]
    for part in parts:
        core = [word for word in part if word not in _NUMBER_NOISE]
        if not core or core[0] in _WEAK_DIGITS or core[-1] in _WEAK_DIGITS:
            continue
        if several_numbers(part):
            continue  # a phone number, a date, two numbers
        digits = spoken_digits(" ".join(part)) or ""
        if shortest <= len(digits) <= longest and len(digits) > len(found):
            found = digits
    return found or None


def spoken_digits(text: str) -> str | None:
    """The digits of a keyed or spoken number ("one two three", "1 2 3", "uno dos").

    None when the answer is not a number, so "for" or "oh" on their own stay words.
    """
    try:
        basic = _basic(text) if isinstance(text, str) else ""
    except Exception:  # pragma: no cover
        return None
    if not basic:
        return None
    tokens = basic.split(" ")
    if len(tokens) > 40:
        return None
    out: list[str] = []
    strong = 0
    weak = 0
    repeat = 1
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok.isdigit():
            out.append(tok * repeat)
            strong += 1
        elif tok in _REPEATERS:
            repeat = _REPEATERS[tok]
            i += 1
            continue
        elif tok in _TENS:
            unit = _DIGIT_WORDS.get(nxt)
            if unit and unit != "0" and nxt not in _WEAK_DIGITS:
                out.append(_TENS[tok] + unit)
                i += 1
            else:
                out.append(_TENS[tok] + "0")
            strong += 1
        elif tok in _TEENS:
            out.append(_TEENS[tok])
            strong += 1
        elif tok in _DIGIT_WORDS and tok not in _WEAK_DIGITS:
            out.append(_DIGIT_WORDS[tok] * repeat)
            strong += 1
        elif tok in _WEAK_DIGITS:
            out.append(_WEAK_DIGITS[tok] * repeat)
            weak += 1
        elif tok in _NUMBER_NOISE:
            pass
        else:
            return None
        repeat = 1
        i += 1
    if strong == 0:
        return None
    return "".join(out) or None
