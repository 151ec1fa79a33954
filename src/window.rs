//! Window stage: pack tokenized sentences into model windows.
//!
//! Consecutive sentences share a window while they fit; a sentence longer than a window
//! is cut into overlapping chunks at word boundaries. Every piece of every sentence lands
//! in at least one window, so nothing is ever truncated. Where chunks overlap, each piece
//! is read from the chunk in which it sits farthest from an edge ([`owners`]).

use std::ops::Range;

/// A run of one sentence's pieces inside a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Sentence index (within its document).
    pub sentence: usize,
    /// Piece range within that sentence.
    pub tokens: Range<usize>,
}

/// One model window: its segments, framed by the special tokens when run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Window {
    /// Segments in order.
    pub segments: Vec<Segment>,
}

impl Window {
    /// Number of pieces, without the two special tokens.
    pub fn len(&self) -> usize {
        self.segments.iter().map(|s| s.tokens.len()).sum()
    }

    /// True for a window without pieces.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Packs sentences (given by their piece counts and word starts) into windows of at most
/// `budget` pieces; sentences longer than `budget` are cut into chunks that overlap by
/// about `overlap` pieces. `word_starts[s]` lists the first piece of each word of
/// sentence `s`, so chunks begin and end on word boundaries where possible.
pub fn pack(
    lengths: &[usize],
    word_starts: &[Vec<usize>],
    budget: usize,
    overlap: usize,
) -> Vec<Window> {
    let budget = budget.max(1);
    let overlap = overlap.min(budget / 2);
    let mut windows = Vec::new();
    let mut current = Window::default();
    for (s, &n) in lengths.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if n > budget {
            if !current.is_empty() {
                windows.push(std::mem::take(&mut current));
            }
            let starts = word_starts.get(s).map_or(&[][..], Vec::as_slice);
            for tokens in chunks(n, starts, budget, overlap) {
                windows.push(Window {
                    segments: vec![Segment {
                        sentence: s,
                        tokens,
                    }],
                });
            }
            continue;
        }
        if current.len() + n > budget {
            windows.push(std::mem::take(&mut current));
        }
        current.segments.push(Segment {
            sentence: s,
            tokens: 0..n,
        });
    }
    if !current.is_empty() {
        windows.push(current);
    }
    windows
}

/// Overlapping chunks of `0..n` of at most `budget` pieces, ending on word starts when a
/// word start lies in the last half of the chunk.
fn chunks(n: usize, word_starts: &[usize], budget: usize, overlap: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let mut end = (start + budget).min(n);
        if end < n {
            // prefer to cut before a word, so no word is split between chunks' edges
            if let Some(&w) = word_starts
                .iter()
                .rev()
                .find(|&&w| w > start + budget / 2 && w <= end)
            {
                end = w;
            }
        }
        out.push(start..end);
        if end >= n {
            return out;
        }
        let mut next = end.saturating_sub(overlap).max(start + 1);
        if let Some(&w) = word_starts.iter().find(|&&w| w >= next && w < end) {
            next = w;
        }
        start = next;
    }
}

/// Where to read each piece of a sentence from: `(window, position in window)` for every
/// piece, choosing among the windows that hold it the one where it is farthest from the
/// window's edges. `positions` lists, for each window holding pieces of this sentence,
/// the window id, the piece range it holds and the position of its first piece.
pub fn owners(n: usize, positions: &[(usize, Range<usize>, usize)]) -> Vec<(usize, usize)> {
    let mut best: Vec<Option<(usize, usize, usize)>> = vec![None; n];
    for (window, range, first_pos) in positions {
        for t in range.clone() {
            if t >= n {
                break;
            }
            let margin = (t - range.start).min(range.end - 1 - t);
            let candidate = (margin, *window, first_pos + (t - range.start));
            if best[t].is_none_or(|b| margin > b.0) {
                best[t] = Some(candidate);
            }
        }
    }
    best.into_iter()
        .map(|b| b.map_or((0, 0), |(_, w, p)| (w, p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_sentences_until_full() {
        let w = pack(&[3, 4, 5, 2], &[vec![], vec![], vec![], vec![]], 8, 2);
        let sizes: Vec<usize> = w.iter().map(Window::len).collect();
        assert_eq!(sizes, vec![7, 7]);
        assert_eq!(w[0].segments.len(), 2);
        assert_eq!(w[1].segments[0].sentence, 2);
    }

    #[test]
    fn skips_empty_sentences() {
        let w = pack(&[0, 3, 0], &[vec![], vec![0, 1, 2], vec![]], 8, 2);
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[0].segments,
            vec![Segment {
                sentence: 1,
                tokens: 0..3
            }]
        );
    }

    #[test]
    fn long_sentence_is_chunked_with_overlap_and_fully_covered() {
        let n = 50;
        let starts: Vec<usize> = (0..n).step_by(3).collect();
        let w = pack(&[2, n, 2], &[vec![0], starts.clone(), vec![0]], 16, 4);
        let chunks: Vec<Range<usize>> = w
            .iter()
            .flat_map(|w| w.segments.iter())
            .filter(|s| s.sentence == 1)
            .map(|s| s.tokens.clone())
            .collect();
        assert!(chunks.len() >= 4);
        let mut covered = vec![false; n];
        for c in &chunks {
            assert!(c.len() <= 16);
            covered[c.clone()].iter_mut().for_each(|x| *x = true);
        }
        assert!(covered.iter().all(|&x| x), "every piece in some chunk");
        for pair in chunks.windows(2) {
            assert!(pair[1].start < pair[0].end, "chunks overlap: {pair:?}");
            assert!(starts.contains(&pair[1].start), "chunk starts on a word");
        }
    }

    #[test]
    fn owners_prefer_the_centre() {
        // sentence of 10 pieces in two chunks 0..6 (window 0) and 4..10 (window 1)
        let own = owners(10, &[(0, 0..6, 1), (1, 4..10, 1)]);
        assert_eq!(own[0], (0, 1));
        assert_eq!(own[3], (0, 4));
        assert_eq!(own[9], (1, 6));
        // piece 4: margin 1 in window 0 (4..6 → min(4,1)), margin 0 in window 1
        assert_eq!(own[4], (0, 5));
        assert_eq!(own[5], (1, 2));
    }
}
