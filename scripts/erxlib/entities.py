"""Mentions to entities as erx groups them (src/document.rs: name_parts, same_entity,
assemble), so the Python scorer keeps the relations erx prints: none inside one entity, one
per ordered entity pair. Kept in step with the Rust: test_entities.py runs the Rust unit tests' cases."""

LEADING_WORDS = ("the", "a", "an")
COMPANY_SUFFIXES = ("inc", "corp", "corporation", "co", "ltd", "plc", "llc", "ag", "sa", "group", "company",
                    "holdings")


def name_parts(text):
    """Lower-cased name parts: dots and other non-alphanumerics dropped, possessive 's and a
    leading article removed, split on whitespace and hyphens."""
    parts = []
    for w in text.replace("-", " ").split():
        for suffix in ("'s", "\u2019s"):
            if w.endswith(suffix):
                w = w[: -len(suffix)]
                break
        w = "".join(c for c in w if c.isalnum()).lower()
        if w:
            parts.append(w)
    if len(parts) > 1 and parts[0] in LEADING_WORDS:
        parts = parts[1:]
    return parts


def initials(parts):
    if len(parts) < 2:
        return None
    s = "".join(w[0] for w in parts if w not in ("of", "and", "for", "the") and w not in COMPANY_SUFFIXES)
    return s if len(s) >= 2 else None


def _same_company(a, b):
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return len(long) > len(short) and long[: len(short)] == short and long[-1] in COMPANY_SUFFIXES


def _is_acronym(short, long):
    return len(short) == 1 and initials(long) == short[0]


def same_entity(label, parts, names):
    """Whether a mention with these name parts can refer to an entity known by `names`."""
    if not parts:
        return False
    for name in names:
        if name == parts:
            return True
        if label == "PER":
            short, long = (parts, name) if len(parts) <= len(name) else (name, parts)
            if all(p in long for p in short):
                return True
            continue
        shared = 0
        for a, b in zip(reversed(parts), reversed(name)):
            if a != b:
                break
            shared += 1
        if shared >= 2 and shared == min(len(parts), len(name)):
            return True
        if label == "ORG" and _same_company(parts, name):
            return True
        if _is_acronym(parts, name) or _is_acronym(name, parts):
            return True
    return False


def group_mentions(mentions):
    """Entity index of each mention; `mentions` are (text, label) in text order."""
    names, by_part, entity_of = [], {}, []
    for text, label in mentions:
        parts = name_parts(text)
        keys = parts + ([initials(parts)] if initials(parts) else [])
        candidates = sorted({e for k in keys for e in by_part.get((label, k), [])}, reverse=True)
        e = next((c for c in candidates if same_entity(label, parts, names[c])), None)
        if e is None:
            names.append([])
            e = len(names) - 1
        entity_of.append(e)
        if parts not in names[e]:
            for k in keys:
                ids = by_part.setdefault((label, k), [])
                if not ids or ids[-1] != e:
                    ids.append(e)
            names[e].append(parts)
    return entity_of


def one_per_entity_pair(relations, entity_of):
    """`relations` are (head_mention, tail_mention, label, score) in erx's order; keeps, per
    ordered pair of distinct entities, the first relation with the highest score."""
    kept, at = [], {}
    for r in relations:
        h, t = entity_of[r[0]], entity_of[r[1]]
        if h == t:
            continue
        k = at.get((h, t))
        if k is None:
            at[(h, t)] = len(kept)
            kept.append(r)
        elif kept[k][3] < r[3]:
            kept[k] = r
    return kept
