//! Text stage: sentence boundaries in raw news text.
//!
//! Extraction runs per sentence, so the splitter has to be cheap (it sees millions of
//! articles) and lossless: every non-whitespace byte lands in exactly one sentence, so
//! model offsets always map back into the article. It is a single forward scan over the
//! bytes; only a `.`/`!`/`?`/`…` followed by whitespace triggers any look-around, and
//! the heuristics below cover the usual traps of English news prose.

use std::ops::Range;

/// Abbreviations that in news prose are virtually always followed by more of the same
/// sentence (mostly titles before a name), so they never end one.
const NEVER_FINAL: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sen", "rep", "gov", "gen", "col", "lt", "sgt", "capt", "rev",
    "vs", "e.g", "i.e",
];

/// Abbreviations that also end sentences ("shares of Acme Inc. The firm..."): they end
/// one only when a clear sentence starter follows.
const SOFT_FINAL: &[&str] = &["inc", "ltd", "corp", "co", "etc", "jr", "sr", "st"];

/// Month and weekday abbreviations. Treated like [`SOFT_FINAL`], but only when
/// capitalised, so common words ("He sat. Then...") still end sentences.
const DATES: &[&str] = &[
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mon",
    "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
];

/// Words that almost always open a sentence rather than continue a name, so they tell
/// "the U.S. He said" (boundary) apart from "the U.S. State Department" (none).
const STARTERS: &[&str] = &[
    "The",
    "He",
    "She",
    "It",
    "They",
    "We",
    "I",
    "You",
    "But",
    "And",
    "In",
    "On",
    "At",
    "As",
    "A",
    "An",
    "This",
    "That",
    "These",
    "Those",
    "There",
    "His",
    "Her",
    "Its",
    "Their",
    "Our",
    "If",
    "When",
    "While",
    "After",
    "However",
    "Meanwhile",
];

/// Byte ranges of the non-blank lines of `text`, without surrounding whitespace.
pub fn lines(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        push_trimmed(text, start..start + line.len(), &mut out);
        start += line.len();
    }
    out
}

/// The byte range of `text` without surrounding whitespace, if anything is left: the
/// whole text as one sentence.
pub fn whole(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    push_trimmed(text, 0..text.len(), &mut out);
    out
}

/// Splits `text` into sentences and returns their byte ranges, in order.
/// Each range is trimmed of surrounding whitespace, ranges never overlap, and every
/// non-whitespace byte of `text` lies in exactly one range (nothing is ever dropped).
///
/// Boundaries: every newline (headlines, datelines and paragraphs sit on their own
/// lines), and `.`/`!`/`?`/`…` (plus any closing quotes or brackets) followed by
/// whitespace and then an uppercase or uncased letter, a digit, an opening quote or
/// bracket, or the end of the text. A lone `.` is not a boundary after a title or
/// `e.g.`/`i.e.`/`vs.`; `No.` is not one before a digit; and after other abbreviations,
/// capitalised month/day abbreviations, initials ("F.") and dotted tokens ("U.S.",
/// "p.m.") it is one only before a common sentence starter ("The", "He", "But", ...).
pub fn split_sentences(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                push_trimmed(text, start..i, &mut out);
                start = i + 1;
                i += 1;
            }
            // 0xE2 leads '…' (and other chars, rejected below); UTF-8 continuation bytes
            // never equal these values, so `i` only stops on char boundaries.
            b'.' | b'!' | b'?' | 0xE2 if text[i..].starts_with(is_terminal) => {
                let run_end = skip(text, i, is_terminal);
                let end = skip(text, run_end, is_closer);
                // A newline in the gap is left to the newline arm.
                let next = skip(text, end, |c| c.is_whitespace() && c != '\n');
                if next > end && ends_sentence(text, i, run_end, next) {
                    push_trimmed(text, start..end, &mut out);
                    start = end;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    push_trimmed(text, start..text.len(), &mut out);
    out
}

/// Sentence-final marks; runs such as "?!" or "..." act as one mark.
fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '}' | '»')
}

fn is_opener(c: char) -> bool {
    matches!(c, '"' | '\'' | '“' | '‘' | '(' | '[' | '«')
}

/// Byte index just past the run of chars from `from` that satisfy `pred`.
fn skip(text: &str, from: usize, pred: impl Fn(char) -> bool) -> usize {
    text[from..]
        .char_indices()
        .find(|&(_, c)| !pred(c))
        .map_or(text.len(), |(k, _)| from + k)
}

/// Decides a candidate boundary: `text[mark..mark_end]` is the punctuation run and
/// `next` the first char after the whitespace that follows it (and its closers).
fn ends_sentence(text: &str, mark: usize, mark_end: usize, next: usize) -> bool {
    let Some(c) = text[next..].chars().next() else {
        return true;
    };
    // "Uncased" letters count as capitals so CJK or Arabic sentence starts still split.
    let opens = c.is_ascii_digit() || is_opener(c) || (c.is_alphabetic() && !c.is_lowercase());
    if !opens || &text[mark..mark_end] != "." {
        return opens;
    }
    let word = word_before(text, mark);
    let in_list = |list: &[&str]| list.iter().any(|a| a.eq_ignore_ascii_case(word));
    if word.is_empty() {
        // After a digit, quote or symbol: "in 2019. The..."
        true
    } else if in_list(NEVER_FINAL) {
        false
    } else if word.eq_ignore_ascii_case("no") {
        !c.is_ascii_digit()
    } else if in_list(SOFT_FINAL)
        || (in_list(DATES) && word.starts_with(char::is_uppercase))
        || word.contains('.')
        || is_initial(word)
    {
        next_is_starter(text, next)
    } else {
        true
    }
}

/// The letters-and-dots token before the period at `dot` ("U.S" in "the U.S."), so
/// dotted acronyms are seen whole.
fn word_before(text: &str, dot: usize) -> &str {
    let head = &text[..dot];
    let from = head
        .char_indices()
        .rev()
        .take_while(|&(_, c)| c.is_alphabetic() || c == '.')
        .last()
        .map_or(dot, |(k, _)| k);
    head[from..].trim_start_matches('.')
}

fn is_initial(word: &str) -> bool {
    let mut chars = word.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if c.is_uppercase())
}

/// Whether the word at `at` (after any opening quote) is a [`STARTERS`] entry used as a
/// word; "A." is an initial, not the article.
fn next_is_starter(text: &str, at: usize) -> bool {
    let from = skip(text, at, is_opener);
    let to = skip(text, from, char::is_alphabetic);
    !text[to..].starts_with('.') && STARTERS.contains(&&text[from..to])
}

fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let slice = &text[range.start..range.end];
    let trimmed = slice.trim();
    if !trimmed.is_empty() {
        let from = range.start + (slice.len() - slice.trim_start().len());
        out.push(from..from + trimmed.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the documented invariants, then returns the sentences as slices.
    fn sents(text: &str) -> Vec<&str> {
        let ranges = split_sentences(text);
        let mut prev_end = 0;
        for r in &ranges {
            assert!(
                r.start >= prev_end && r.start < r.end,
                "{ranges:?} in {text:?}"
            );
            assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
            let s = &text[r.clone()];
            assert_eq!(s, s.trim(), "untrimmed range in {text:?}");
            prev_end = r.end;
        }
        let solid = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        let kept: String = ranges.iter().map(|r| solid(&text[r.clone()])).collect();
        assert_eq!(kept, solid(text), "bytes dropped from {text:?}");
        ranges.into_iter().map(|r| &text[r]).collect()
    }

    /// `want` lists the expected sentences separated by `|`.
    fn check(cases: &[(&str, &str)]) {
        for (text, want) in cases {
            assert_eq!(sents(text).join("|"), *want, "splitting {text:?}");
        }
    }

    #[test]
    fn empty_and_blank_give_nothing() {
        assert!(sents("").is_empty());
        assert!(sents(" \n\t\r\n \u{a0} \n\n").is_empty());
    }

    #[test]
    fn splits_on_final_punctuation() {
        check(&[
            (
                "Rain fell. Did it stop? No! 12 roads closed… Crews worked.",
                "Rain fell.|Did it stop?|No!|12 roads closed…|Crews worked.",
            ),
            ("Wait... What?! Fine.", "Wait...|What?!|Fine."),
            ("It rose. and fell.", "It rose. and fell."),
            ("See example.com.Then go.", "See example.com.Then go."),
        ]);
    }

    #[test]
    fn abbreviations_do_not_split() {
        check(&[
            (
                "Mr. Li met Gov. Ng on Feb. 3. They left.",
                "Mr. Li met Gov. Ng on Feb. 3.|They left.",
            ),
            (
                "PROF. Li spoke. Then DR. Ng did.",
                "PROF. Li spoke.|Then DR. Ng did.",
            ),
            ("Fruit, e.g. Apples, sold.", "Fruit, e.g. Apples, sold."),
            (
                "It is No. 1. She said no. Nobody cared.",
                "It is No. 1.|She said no.|Nobody cared.",
            ),
        ]);
    }

    #[test]
    fn soft_abbreviations_split_only_before_starters() {
        check(&[
            (
                "He joined Acme Inc. The firm grew.",
                "He joined Acme Inc.|The firm grew.",
            ),
            (
                "Acme Inc. Chief Jo quit at St. Mark's.",
                "Acme Inc. Chief Jo quit at St. Mark's.",
            ),
            ("Due by Mon. Dec. 5 at noon.", "Due by Mon. Dec. 5 at noon."),
            ("He sat. Voters waited.", "He sat.|Voters waited."),
        ]);
    }

    #[test]
    fn dotted_acronyms() {
        check(&[
            (
                "The U.S. State Department met U.N. Envoy Li.",
                "The U.S. State Department met U.N. Envoy Li.",
            ),
            (
                "She moved to the U.S. He stayed.",
                "She moved to the U.S.|He stayed.",
            ),
            (
                "It is at 5 p.m. Friday. It may slip.",
                "It is at 5 p.m. Friday.|It may slip.",
            ),
            (
                "It ended at 9 a.m. \"We are done.\"",
                "It ended at 9 a.m.|\"We are done.\"",
            ),
            (
                "Sales of U.K. \"Premium\" cars rose.",
                "Sales of U.K. \"Premium\" cars rose.",
            ),
        ]);
    }

    #[test]
    fn initials() {
        check(&[
            ("John F. Kennedy spoke.", "John F. Kennedy spoke."),
            (
                "J. K. Rowling and J. A. Ortiz wrote.",
                "J. K. Rowling and J. A. Ortiz wrote.",
            ),
            (
                "They chose plan B. The rest left.",
                "They chose plan B.|The rest left.",
            ),
        ]);
    }

    #[test]
    fn closing_quotes_stay_with_their_sentence() {
        check(&[
            (
                "He said \"No.\" Then he left.",
                "He said \"No.\"|Then he left.",
            ),
            (
                "“Why?” she asked. (It rained.) Next.",
                "“Why?” she asked.|(It rained.)|Next.",
            ),
            (
                "He left. \"We lost,\" she said.",
                "He left.|\"We lost,\" she said.",
            ),
            (
                "They said \"no\". Then quiet.",
                "They said \"no\".|Then quiet.",
            ),
        ]);
    }

    #[test]
    fn numbers_never_split() {
        check(&[(
            "Shares rose 3.5 percent to $1.2bn in 2019. Analysts cheered.",
            "Shares rose 3.5 percent to $1.2bn in 2019.|Analysts cheered.",
        )]);
    }

    #[test]
    fn newlines_and_headlines() {
        check(&[
            (
                "Storm Batters Coast\nLISBON (Wire) -\nPower failed. Crews worked.\n",
                "Storm Batters Coast|LISBON (Wire) -|Power failed.|Crews worked.",
            ),
            (
                "First part ends here\n\n  \n\t\nsecond starts low\r\nthird",
                "First part ends here|second starts low|third",
            ),
            ("Met Mr.\nLee", "Met Mr.|Lee"),
        ]);
    }

    #[test]
    fn long_text_without_punctuation_is_one_range() {
        let text = "word ".repeat(20_000);
        assert_eq!(split_sentences(&text), vec![0..text.len() - 1]);
    }

    #[test]
    fn multibyte_text() {
        check(&[
            ("Café opened. Émile came.", "Café opened.|Émile came."),
            (
                "He flew to 北京. 北京 is vast.",
                "He flew to 北京.|北京 is vast.",
            ),
            ("Great 😀. Next 😀! 😀", "Great 😀.|Next 😀! 😀"),
            ("Cafe\u{301}. E\u{301}cole", "Cafe\u{301}.|E\u{301}cole"),
            ("Über. À… «Oui» dit-il.", "Über.|À…|«Oui» dit-il."),
        ]);
    }

    #[test]
    fn nothing_dropped_on_awkward_inputs() {
        let pieces = [
            "Mr.", "U.S.", " ", "\n", "\n\n", ".", "!", "?", "…", "\"", "”", "(", ")", "The", "he",
            "3.5", "é", "北京", "😀", "e\u{301}", "A.", "no.", "Inc.", "\u{a0}", "\r\n", "\t", "“",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as usize
        };
        for _ in 0..2_000 {
            let len = next() % 24;
            let text: String = (0..len).map(|_| pieces[next() % pieces.len()]).collect();
            sents(&text);
        }
        for text in [
            "...",
            " . ",
            "“”",
            "\u{301}.",
            "a.\u{301} B",
            "…\n…",
            "!!! ???",
        ] {
            sents(text);
        }
    }

    #[test]
    fn lines_are_sentences_without_their_blanks() {
        let text = "  Kim met Choe.\n\nIn Geneva . \r\nlast\n";
        let got: Vec<&str> = lines(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(got, vec!["Kim met Choe.", "In Geneva .", "last"]);
        assert!(lines(" \n\t\n").is_empty());
    }
}
