//! Tokenize stage: sentences → word pieces with byte offsets, word boundaries and the
//! casing side input.
//!
//! Words are the tokenizer's pre-tokenizer words (BERT: split on whitespace and
//! punctuation), so "Jong-nam" is three words. Decoding works on words, which is why an
//! entity can never start or end inside a word.

use std::ops::Range;
use std::path::Path;

use crate::error::{Error, Result};

/// The casing scheme this crate implements (`casing.scheme` in `erx.json`).
pub const CASE_SCHEME: &str = "word-shape-v1";

/// Word-shape classes of `word-shape-v1`, in id order (keep in sync with
/// `scripts/erxlib/features.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CaseClass {
    /// Padding and special tokens.
    Pad = 0,
    /// No upper-case letter ("visa", also scripts without case).
    Lower = 1,
    /// First letter upper-case ("Choe", "McDonald", "I").
    Title = 2,
    /// Two or more letters, none lower-case ("KCNA").
    Upper = 3,
    /// No letters, some digit ("1996").
    Digit = 4,
    /// Anything else: punctuation, "iPhone".
    Other = 5,
}

/// The word-shape class of one word of the original (not lower-cased) text.
pub fn case_class(word: &str) -> CaseClass {
    let mut letters = 0usize;
    let mut first_upper = None;
    let (mut has_upper, mut has_lower, mut has_digit) = (false, false, false);
    for c in word.chars() {
        if c.is_alphabetic() {
            letters += 1;
            let up = c.is_uppercase();
            first_upper.get_or_insert(up);
            has_upper |= up;
            has_lower |= c.is_lowercase();
        } else if c.is_numeric() {
            has_digit = true;
        }
    }
    match (letters, has_upper, has_lower) {
        (0, _, _) if has_digit => CaseClass::Digit,
        (0, _, _) => CaseClass::Other,
        (_, false, _) => CaseClass::Lower,
        (n, true, false) => {
            if n >= 2 {
                CaseClass::Upper
            } else {
                CaseClass::Title
            }
        }
        _ if first_upper == Some(true) => CaseClass::Title,
        _ => CaseClass::Other,
    }
}

/// One pre-tokenizer word of a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Byte range in the document.
    pub bytes: Range<usize>,
    /// Index of its first piece within the sentence's tokens.
    pub first_token: usize,
    /// Index of its last piece within the sentence's tokens.
    pub last_token: usize,
    /// The character, when the word is one non-alphanumeric character ("-", ".").
    pub punct: Option<char>,
    /// True when no space separates it from the previous word ("." in "U.S.").
    pub attached: bool,
    /// Closed-class or not ("the", "of", "after", "was" are): relation phrases do not
    /// begin or end with a closed-class word, unless a predicate brought it along.
    pub class: WordClass,
}

/// What kind of closed-class English word a word is, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WordClass {
    /// An open-class word: a name, noun, verb, number, or punctuation.
    #[default]
    Content,
    /// "a", "an", "the" (lower case, so "Class A" keeps its "A"): a phrase never ends
    /// with one.
    Article,
    /// "and", "but", "or" (lower case, so "OR" for Oregon is no conjunction): a subject or
    /// object is never read across one.
    Conjunction,
    /// Any other closed-class word ("of", "after", "was").
    Function,
}

impl WordClass {
    /// True for every closed-class word.
    pub fn is_function(self) -> bool {
        self != WordClass::Content
    }
}

/// Closed-class words trimmed from the edges of a gap phrase ("after President" →
/// "President"). Lower case; "s" is the rest of a split "'s".
const FUNCTION_WORDS: &[&str] = &[
    "a", "about", "after", "against", "an", "and", "are", "as", "at", "be", "been", "before",
    "between", "but", "by", "during", "for", "from", "had", "has", "have", "he", "her", "his",
    "in", "into", "is", "it", "its", "of", "on", "or", "s", "she", "since", "than", "that", "the",
    "their", "they", "this", "to", "was", "were", "which", "who", "with",
];

/// The closed class of `word` ("the", "of", "after", "was"; ASCII case-insensitive,
/// except that only lower-case words are articles or conjunctions). Runs for every word of
/// every document, so it lower-cases into a stack buffer instead of allocating.
pub fn word_class(word: &str) -> WordClass {
    let mut buf = [0u8; 7];
    let bytes = word.as_bytes();
    if bytes.is_empty() || bytes.len() > buf.len() {
        return WordClass::Content;
    }
    for (b, c) in buf.iter_mut().zip(bytes) {
        *b = c.to_ascii_lowercase();
    }
    let lower = buf[..bytes.len()] == *bytes;
    match std::str::from_utf8(&buf[..bytes.len()]) {
        Ok("a" | "an" | "the") if lower => WordClass::Article,
        Ok("and" | "but" | "or") if lower => WordClass::Conjunction,
        Ok(w) if FUNCTION_WORDS.binary_search(&w).is_ok() => WordClass::Function,
        _ => WordClass::Content,
    }
}

/// A sentence as word pieces, without special tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenizedSentence {
    /// Byte range of the sentence in the document.
    pub bytes: Range<usize>,
    /// Piece ids.
    pub ids: Vec<i64>,
    /// Casing class per piece (all zero when the model takes no casing input).
    pub case_ids: Vec<i64>,
    /// Byte range of each piece in the document.
    pub offsets: Vec<Range<usize>>,
    /// Pre-tokenizer words, in order.
    pub words: Vec<Word>,
}

impl TokenizedSentence {
    /// Number of pieces.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the sentence produced no pieces (e.g. only control characters).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The tokenizer of a model, with the special token ids windows are framed with.
pub struct SentenceTokenizer {
    inner: tokenizers::Tokenizer,
    /// Id of the token that opens a window (`[CLS]`).
    pub cls: i64,
    /// Id of the token that closes a window (`[SEP]`).
    pub sep: i64,
    /// Id used for padding.
    pub pad: i64,
    casing: bool,
}

impl SentenceTokenizer {
    /// Loads `tokenizer.json`; `casing` turns on the `case_ids` side input.
    pub fn from_file(path: &Path, casing: bool) -> Result<Self> {
        let mut inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| Error::Tokenizer(format!("cannot load {}: {e}", path.display())))?;
        // windows are framed and padded here, not by the tokenizer
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let framed = inner
            .encode("", true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let ids = framed.get_ids();
        let (cls, sep) = match ids {
            [c, s] => (*c as i64, *s as i64),
            _ => {
                return Err(Error::Tokenizer(format!(
                    "{}: expected the post-processor to frame text as [CLS] … [SEP], got {} special tokens",
                    path.display(),
                    ids.len()
                )))
            }
        };
        let pad = inner.token_to_id("[PAD]").unwrap_or(0) as i64;
        Ok(Self {
            inner,
            cls,
            sep,
            pad,
            casing,
        })
    }

    /// Tokenizes the given sentences (byte ranges of `doc`) in one batch.
    pub fn tokenize(
        &self,
        doc: &str,
        sentences: &[Range<usize>],
    ) -> Result<Vec<TokenizedSentence>> {
        let inputs: Vec<&str> = sentences.iter().map(|r| &doc[r.clone()]).collect();
        let encodings = self
            .inner
            .encode_batch(inputs, false)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(encodings
            .iter()
            .zip(sentences)
            .map(|(enc, range)| self.sentence(doc, range.clone(), enc))
            .collect())
    }

    fn sentence(
        &self,
        doc: &str,
        bytes: Range<usize>,
        enc: &tokenizers::Encoding,
    ) -> TokenizedSentence {
        let base = bytes.start;
        let n = enc.get_ids().len();
        let mut out = TokenizedSentence {
            bytes,
            ids: enc.get_ids().iter().map(|&i| i as i64).collect(),
            case_ids: vec![CaseClass::Pad as i64; n],
            offsets: Vec::with_capacity(n),
            words: Vec::new(),
        };
        let offsets = enc.get_offsets();
        let mut current: Option<u32> = None;
        for (t, word_id) in enc.get_word_ids().iter().enumerate() {
            let (s, e) = offsets[t];
            // The normalizer drops some characters (combining accents, control characters);
            // a piece keeps what follows it up to the next piece or space, so mentions
            // never lose the accent of their last letter.
            let next = offsets.get(t + 1).map_or(out.bytes.end, |o| base + o.0);
            let e = extend_over_dropped(doc, base + e, next);
            out.offsets.push(base + s..e);
            match (*word_id, out.words.last_mut()) {
                (Some(w), Some(last)) if current == Some(w) => {
                    last.bytes.end = last.bytes.end.max(e);
                    last.last_token = t;
                }
                (w, _) => {
                    // a piece without word id (should not happen without specials) is its own word
                    current = w;
                    let attached = out.words.last().is_some_and(|w| w.bytes.end == base + s);
                    out.words.push(Word {
                        bytes: base + s..e,
                        first_token: t,
                        last_token: t,
                        punct: None,
                        attached,
                        class: WordClass::Content,
                    });
                }
            }
        }
        for w in &mut out.words {
            let text = doc.get(w.bytes.clone()).unwrap_or_default();
            w.class = word_class(text);
            let mut chars = text.chars();
            w.punct = match (chars.next(), chars.next()) {
                (Some(c), None) if !c.is_alphanumeric() => Some(c),
                _ => None,
            };
        }
        if self.casing {
            for w in &out.words {
                let class = doc
                    .get(w.bytes.clone())
                    .map_or(CaseClass::Other, case_class) as i64;
                out.case_ids[w.first_token..=w.last_token].fill(class);
            }
        }
        out
    }
}

/// `end` moved over the non-space characters between it and `next` (bytes of `doc`).
fn extend_over_dropped(doc: &str, end: usize, next: usize) -> usize {
    let Some(gap) = doc.get(end..next.max(end)) else {
        return end;
    };
    end + gap.find(char::is_whitespace).unwrap_or(gap.len())
}

/// Converts byte offsets of one text to Unicode code-point offsets.
///
/// Built once per document: identity for ASCII text, a lookup table otherwise, so each
/// conversion is O(1).
pub struct CharIndex {
    table: Option<Vec<u32>>,
}

impl CharIndex {
    /// Prepares conversions for `text`.
    pub fn new(text: &str) -> Self {
        if text.is_ascii() {
            return Self { table: None };
        }
        let mut table = vec![0u32; text.len() + 1];
        let mut chars = 0u32;
        for (b, c) in text.char_indices() {
            for slot in &mut table[b..b + c.len_utf8()] {
                *slot = chars;
            }
            chars += 1;
        }
        table[text.len()] = chars;
        Self { table: Some(table) }
    }

    /// The code-point offset of byte offset `byte` (a byte inside a character maps to
    /// that character).
    pub fn char_offset(&self, byte: usize) -> usize {
        match &self.table {
            None => byte,
            Some(t) => t
                .get(byte)
                .copied()
                .unwrap_or_else(|| t.last().copied().unwrap_or(0)) as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_classes() {
        assert_eq!(case_class("visa"), CaseClass::Lower);
        assert_eq!(case_class("Choe"), CaseClass::Title);
        assert_eq!(case_class("McDonald"), CaseClass::Title);
        assert_eq!(case_class("I"), CaseClass::Title);
        assert_eq!(case_class("KCNA"), CaseClass::Upper);
        assert_eq!(case_class("1996"), CaseClass::Digit);
        assert_eq!(case_class("-"), CaseClass::Other);
        assert_eq!(case_class("iPhone"), CaseClass::Other);
        assert_eq!(case_class("Über"), CaseClass::Title);
        assert_eq!(case_class("北京"), CaseClass::Lower);
    }

    #[test]
    fn char_index_ascii_is_identity() {
        let idx = CharIndex::new("plain text");
        assert_eq!(idx.char_offset(6), 6);
    }

    #[test]
    fn char_index_multibyte() {
        // é = 2 bytes, 北 = 3 bytes, 😀 = 4 bytes, e + combining acute = 1 + 2 bytes
        let text = "é北😀e\u{301}x";
        let idx = CharIndex::new(text);
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        for (ci, (b, _)) in chars.iter().enumerate() {
            assert_eq!(idx.char_offset(*b), ci, "byte {b}");
        }
        assert_eq!(idx.char_offset(text.len()), text.chars().count());
        // the Python slice text[s:e] of a converted range is the same text
        let x = text.find('x').unwrap_or(0);
        let s = idx.char_offset(x);
        let got: String = text.chars().skip(s).take(1).collect();
        assert_eq!(got, "x");
    }

    #[test]
    fn function_words_are_closed_class_only() {
        assert!(
            FUNCTION_WORDS.windows(2).all(|p| p[0] < p[1]),
            "list must stay sorted"
        );
        for w in ["the", "The", "OF", "after", "s"] {
            assert!(word_class(w).is_function(), "{w}");
        }
        for w in [
            "President",
            "envoy",
            "denied",
            "Theresa",
            "",
            "dé",
            "of the",
        ] {
            assert!(!word_class(w).is_function(), "{w}");
        }
        assert_eq!(word_class("the"), WordClass::Article);
        assert_eq!(word_class("but"), WordClass::Conjunction);
        for w in ["The", "A", "OR", "And"] {
            assert_eq!(
                word_class(w),
                WordClass::Function,
                "{w}: closed-class, not lower case"
            );
        }
        assert_eq!(word_class("after"), WordClass::Function);
        assert_eq!(word_class("visa"), WordClass::Content);
    }
}
