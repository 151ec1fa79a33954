"""Text -> model inputs, exactly as the Rust pipeline builds them.

Words are the tokenizer's pre-tokenizer words (BERT: whitespace and punctuation split),
so "Jong-nam" is three words and an entity can never start or end inside a word.
Capitalisation reaches the uncased encoder through `case_ids`: one class per word,
computed from the original (not lower-cased) text and given to each of its pieces.
"""

from dataclasses import dataclass, field

# word-shape-v1: keep in sync with src/tokenize.rs (CaseClass)
CASE_CLASSES = ["pad", "lower", "title", "upper", "digit", "other"]
CASE_PAD, CASE_LOWER, CASE_TITLE, CASE_UPPER, CASE_DIGIT, CASE_OTHER = range(6)


def case_class(word: str) -> int:
    letters = [c for c in word if c.isalpha()]
    if not letters:
        return CASE_DIGIT if any(c.isnumeric() for c in word) else CASE_OTHER
    has_upper = any(c.isupper() for c in letters)
    has_lower = any(c.islower() for c in letters)
    if not has_upper:
        return CASE_LOWER  # also scripts without case (CJK)
    if not has_lower:
        return CASE_UPPER if len(letters) >= 2 else CASE_TITLE
    if letters[0].isupper():
        return CASE_TITLE
    return CASE_OTHER


@dataclass
class Encoded:
    """One tokenised text. `words[w] = (char_start, char_end, first_token, last_token)`."""

    input_ids: list
    case_ids: list
    words: list = field(default_factory=list)
    token_word: list = field(default_factory=list)  # word index per token, -1 for specials
    text: str = ""


def encode(tokenizer, text: str, max_tokens: int | None = None) -> Encoded:
    enc = tokenizer.encode(text)
    ids = list(enc.ids)
    word_ids = enc.word_ids
    offsets = enc.offsets
    words = []
    token_word = []
    index_of = {}
    for t, w in enumerate(word_ids):
        if w is None:
            token_word.append(-1)
            continue
        if w not in index_of:
            index_of[w] = len(words)
            words.append([offsets[t][0], offsets[t][1], t, t])
        wi = index_of[w]
        words[wi][1] = max(words[wi][1], offsets[t][1])
        words[wi][3] = t
        token_word.append(wi)
    case_ids = [CASE_PAD] * len(ids)
    for s, e, ft, lt in words:
        c = case_class(text[s:e])
        for t in range(ft, lt + 1):
            case_ids[t] = c
    if max_tokens is not None and len(ids) > max_tokens:
        # training only: keep [CLS] ... [SEP] within the limit
        keep = max_tokens - 1
        ids = ids[:keep] + [ids[-1]]
        case_ids = case_ids[:keep] + [CASE_PAD]
        token_word = token_word[:keep] + [-1]
        words = [w for w in words if w[3] < keep]
    return Encoded(ids, case_ids, [tuple(w) for w in words], token_word, text)


def align_words_to_tokens(enc: Encoded, token_starts: list):
    """Map each pre-tokenizer word to (source token index, is_first_piece_of_that_token).

    `token_starts[i]` is the char offset of gold token i in the space-joined text."""
    import bisect

    out = []
    prev_tok = -1
    for s, _e, _ft, _lt in enc.words:
        ti = bisect.bisect_right(token_starts, s) - 1
        out.append((ti, ti != prev_tok))
        prev_tok = ti
    return out
