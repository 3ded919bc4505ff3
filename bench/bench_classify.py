"""How long does understanding one utterance take? (Target: at most 0.5 ms.)

Runs the matcher over the dev set several times and prints microseconds per utterance,
next to two baselines measured in the same run: `normalize` alone (the text clean-up
every classification starts with) and a trivial dict lookup (the floor of any Python
work per utterance). The ratios make the number comparable across machines. Also timed:
the whole decision the dialog makes on an opening (every need of a long utterance read
clause by clause, then the one to answer chosen), and start-up (intents and flow loaded).

    python bench/bench_classify.py [--rounds N] [--file utterances.tsv]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from voicebot.dialog.evaluation import load_labelled, load_scenarios
from voicebot.dialog.flow import load_flow
from voicebot.dialog.intents import IntentMatcher
from voicebot.dialog.normalize import normalize
from voicebot.dialog.understanding import decide, opening

REPO = Path(__file__).resolve().parents[1]
OPENINGS = REPO / "tests" / "data" / "openings-heldout.tsv"


def _dev_file() -> Path:
    shared = os.environ.get("VOICEBOT_SHARED_DIR")
    base = Path(shared) if shared else REPO.parent / "shared"
    return base / "data" / "utterances-dev.tsv"


def _per_item_us(func, items: list[str], rounds: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(rounds):  # best of several rounds: the least disturbed measurement
        start = time.perf_counter()
        for item in items:
            func(item)
        best = min(best, time.perf_counter() - start)
    return best / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--file", type=Path, default=None)
    args = parser.parse_args()
    path = args.file or _dev_file()
    if path.exists():
        items = [text for _, text in load_labelled(path)]
    else:
        items = ["I forgot my password", "activation key", "hablar con una persona"] * 30
        print(f"({path} not found: using built-in sample utterances)")

    start = time.perf_counter()
    matcher = IntentMatcher.from_directory(REPO / "flows" / "intents")
    flow = load_flow(REPO / "flows", ("en", "es"))
    load_ms = (time.perf_counter() - start) * 1e3
    context = opening(flow, "voice", "en")

    table = {text: "unknown" for text in items}
    lookup_us = _per_item_us(table.get, items, args.rounds)
    normalize_us = _per_item_us(normalize, items, args.rounds)
    # first pass warms the typo-correction cache, as a running service would be
    cold_us = _per_item_us(matcher.classify, items, 1)
    classify_us = _per_item_us(matcher.classify, items, args.rounds)
    decide_us = _per_item_us(lambda text: decide(flow, matcher, text, context), items, args.rounds)
    # long openings ("hi yes so ... but now ..."): several clauses, each read on its own
    openings = [row.utterance for row in load_scenarios(OPENINGS)]
    long_classify_us = _per_item_us(matcher.classify, openings, args.rounds)
    long_decide_us = _per_item_us(
        lambda text: decide(flow, matcher, text, context), openings, args.rounds
    )

    print(f"utterances:            {len(items)} (best of {args.rounds} rounds)")
    print(f"load intents and flow: {load_ms:8.1f} ms")
    print(f"dict lookup baseline:  {lookup_us:8.2f} us/utterance")
    print(f"normalize baseline:    {normalize_us:8.2f} us/utterance")
    print(f"classify (first pass): {cold_us:8.2f} us/utterance")
    print(f"classify:              {classify_us:8.2f} us/utterance")
    print(f"decide (the dialog's): {decide_us:8.2f} us/utterance")
    print(
        f"long openings ({len(openings)}):     classify {long_classify_us:.2f} us, decide "
        f"{long_decide_us:.2f} us ({long_decide_us / long_classify_us:.1f}x)"
    )
    print(f"classify / normalize:  {classify_us / normalize_us:8.1f}x")
    print(f"decide / normalize:    {decide_us / normalize_us:8.1f}x")
    print(f"classify / lookup:     {classify_us / lookup_us:8.0f}x")


if __name__ == "__main__":
    main()
