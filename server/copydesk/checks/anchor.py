"""Finding a report's words again in the page's current text, in the manner of Hypothesis
(a quote with its prefix and suffix, matched exactly first, then fuzzily).

Fuzzy matching uses rapidfuzz: its ``partial_ratio_alignment`` finds where a context
(up to 64 characters) best fits in a long text, with the span, in C++ (100 000 characters
in under a millisecond here); it is actively maintained (frequent releases) and ships
wheels. diff-match-patch's Bitap match does the same job in pure Python, limited to
32-character patterns unless slowed down, and is released rarely.

The thresholds are similarities from 0 to 1 (rapidfuzz's normalized Indel similarity), set
from ``bench/checks_accuracy.py``'s corpus (the bench prints the margins they leave).
"""

import os
from dataclasses import dataclass, field

from rapidfuzz import fuzz

STATES = ("still-there", "changed", "moved", "page-gone", "unknown")

# One side of the context around an exact occurrence at least this similar: the words are
# where they were (the other side may hold a date or counter that changed).
SIDE_MATCH = 0.8
# A context shorter than this is the start or end of the article, not evidence of a place.
MIN_SIDE = 12
# A prefix or suffix found fuzzily at least this similar counts as found.
SURROUNDING_MATCH = 0.85
# Neither words nor surroundings found: the whole passage (prefix, words, suffix) fitting
# this well somewhere means the passage was rewritten (``checks.locate`` also asks the title).
PASSAGE_MATCH = 0.6
# With only one side as it was, the words count as where they were within this many
# characters of their old offset; farther, they moved (with part of their sentence).
MAX_SHIFT = 100
# Words found elsewhere with this many characters of their context still next to them
# moved there (a shorter match is a chance repeat: "the", "in the").
CARRIED = 16
# Words this long found elsewhere are the same words moved, whatever surrounds them.
LONG_EXACT = 24
MAX_OCCURRENCES = 1000
NOT_FOUND = "Neither the words nor their surroundings are on the page."
NEARBY = 40


@dataclass(frozen=True)
class Result:
    state: str
    detail: dict = field(default_factory=dict)


def similarity(a, b):
    return fuzz.ratio(a, b) / 100 if a or b else 1.0


def _occurrences(text, exact):
    found, start = [], text.find(exact)
    while start >= 0 and len(found) < MAX_OCCURRENCES:
        found.append(start)
        start = text.find(exact, start + 1)
    return found


def _sides(text, start, end, prefix, suffix):
    """How well the text before and after an occurrence fits the reported prefix and
    suffix; None for a side too short to tell (an empty one fits only at the text's edge)."""
    before = text[max(0, start - len(prefix)):start]
    after = text[end:end + len(suffix)]
    left = similarity(before, prefix) if len(prefix) >= MIN_SIDE else (1.0 if not prefix and start == 0 else None)
    right = similarity(after, suffix) if len(suffix) >= MIN_SIDE else (
        1.0 if not suffix and end == len(text) else None)
    return left, right


def _carried(text, start, end, prefix, suffix):
    """How many characters of the reported context, next to the words, came along with them."""
    before = text[max(0, start - len(prefix)):start]
    left = len(os.path.commonprefix([before[::-1], prefix[::-1]]))
    right = len(os.path.commonprefix([text[end:end + len(suffix)], suffix]))
    return max(left, right)


def _nearby(text, start, end):
    return {"offset": start, "before": text[max(0, start - NEARBY):start].lstrip(),
            "after": text[end:end + NEARBY].rstrip()}


def _find(needle, text, start=0, stop=None):
    """(start, end, similarity) of ``needle``'s best place in ``text[start:stop]``: an exact
    match first, else rapidfuzz's best alignment; None when below SURROUNDING_MATCH."""
    stop = len(text) if stop is None else stop
    exact = text.find(needle, start, stop)
    if exact >= 0:
        return exact, exact + len(needle), 1.0
    window = text[start:stop]
    if not window or not needle:
        return None
    aligned = fuzz.partial_ratio_alignment(needle, window)
    if aligned is None or aligned.score / 100 < SURROUNDING_MATCH:
        return None
    return start + aligned.dest_start, start + aligned.dest_end, aligned.score / 100


def _surroundings(text, exact, prefix, suffix):
    """Where the prefix ends and the suffix starts (the words between are what stands
    there now), and which sides were found: (middle_start, middle_end, sides)."""
    span = 3 * len(exact) + 200
    found_prefix = _find(prefix, text) if len(prefix) >= MIN_SIDE else None
    if found_prefix:
        stop = found_prefix[1] + span + len(suffix)
        found_suffix = _find(suffix, text, found_prefix[1], stop) if len(suffix) >= MIN_SIDE else None
    else:
        found_suffix = _find(suffix, text) if len(suffix) >= MIN_SIDE else None
    if found_prefix and found_suffix:
        return found_prefix[1], found_suffix[0], ("prefix", "suffix")
    # A short side (the article's start or end) is looked for exactly, next to the long one.
    if found_suffix and len(prefix) < MIN_SIDE:
        start = max(0, found_suffix[0] - span)
        at = text.rfind(prefix, start, found_suffix[0]) if prefix else (0 if start == 0 else -1)
        if at >= 0:
            return at + len(prefix), found_suffix[0], ("prefix", "suffix")
    if found_prefix and len(suffix) < MIN_SIDE:
        stop = found_prefix[1] + span
        at = text.find(suffix, found_prefix[1], stop) if suffix else (len(text) if len(text) <= stop else -1)
        if at >= 0:
            return found_prefix[1], at, ("prefix", "suffix")
    if found_prefix:
        return found_prefix[1], min(len(text), found_prefix[1] + len(exact) + NEARBY), ("prefix",)
    if found_suffix:
        return max(0, found_suffix[0] - len(exact) - NEARBY), found_suffix[0], ("suffix",)
    return None


def anchor(text, exact, prefix="", suffix="", position=None):
    """``Result(state, detail)`` for the reported words in the page's current article text.

    still-there: the words with their prefix and suffix (anywhere), or with one of them near
      their old offset (the other held a date, counter or boilerplate that changed).
      Detail: offset, shift from the reported position.
    changed: the words are gone from between their prefix and suffix (detail: old, new),
      or the passage around them was rewritten.
    moved: the words are on the page with other surroundings (detail: offset, the words
      before and after, shift).
    unknown: neither the words nor anything around them is on the page (``not_found``).
    """
    occurrences = _occurrences(text, exact) if exact else []
    best, best_rank, best_sides = None, None, ()
    for start in occurrences:
        known = [side for side in _sides(text, start, start + len(exact), prefix, suffix) if side is not None]
        distance = abs(start - position) if position is not None else 0
        rank = (max(known, default=1.0), sum(known), -distance)
        if best_rank is None or rank > best_rank:
            best, best_rank, best_sides = start, rank, known
    if best is not None:
        shift = _shift(best, position)
        matching = [side >= SIDE_MATCH for side in best_sides]
        # Both sides as they were, anywhere; or nearly so, or one of them, the other being a
        # date, counter or boilerplate that changed, near the old place (a moved sentence
        # carries the parts of its context inside it along).
        if all(side == 1.0 for side in best_sides) or (
                any(matching) and abs(shift or 0) <= MAX_SHIFT):
            return Result("still-there", {"offset": best, "shift": shift or 0})

    surroundings = _surroundings(text, exact, prefix, suffix)
    if surroundings:
        middle_start, middle_end, sides = surroundings
        now = text[middle_start:middle_end].strip()
        if now == exact or any(start < middle_end and start + len(exact) > middle_start for start in occurrences):
            pass  # the surroundings found (fuzzily: edges may be off) are those of an occurrence
        elif len(sides) == 2 and not now and best is not None:
            # Cut out here and found elsewhere: moved, not changed.
            return _moved(text, best, exact, position)
        elif len(sides) == 2 or best is None:
            return Result("changed", {"old": exact, "new": now, "found": list(sides)})
    # Elsewhere with some of its context, or long enough not to be found by chance.
    if best is not None and (_carried(text, best, best + len(exact), prefix, suffix) >= CARRIED
                             or len(exact) >= LONG_EXACT):
        return _moved(text, best, exact, position)

    passage = f"{prefix}{exact}{suffix}".strip()
    # (A text shorter than the passage would be aligned inside it instead: no evidence.)
    aligned = fuzz.partial_ratio_alignment(passage, text) if passage and len(text) >= len(passage) else None
    if aligned is not None and aligned.score / 100 >= PASSAGE_MATCH:
        return Result("changed", {"old": exact, "new": text[aligned.dest_start:aligned.dest_end].strip(),
                                  "found": ["passage"]})
    return Result("unknown", {"reason": NOT_FOUND, "not_found": True})


def _moved(text, start, exact, position):
    return Result("moved", {**_nearby(text, start, start + len(exact)), "shift": _shift(start, position)})


def _shift(offset, position):
    return offset - position if position is not None else None


def first_found(results):
    """The result in the first text where the words or their surroundings were found: the
    widget reads the closest root around the selection, and ``text.article_texts`` lists
    the candidates in the widget's order (its position counts in that root's text)."""
    return next((result for result in results if not result.detail.get("not_found")), results[-1])
