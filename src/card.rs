//! The model card (`erx.json`): everything the pipeline needs to know about a model, so
//! that nothing about labels, input names or lengths is hard-coded in Rust.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The parsed `erx.json` of a model folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelCard {
    /// Model name, reported in every document's `meta.model`.
    pub name: String,
    /// The ONNX graph file and its checksum.
    pub onnx: OnnxFile,
    /// Tokenizer file name, relative to the model folder.
    pub tokenizer: String,
    /// Graph input names.
    pub inputs: Inputs,
    /// Graph output names.
    pub outputs: Outputs,
    /// Longest token sequence (special tokens included) the model was trained on.
    pub max_tokens: usize,
    /// Word-shape casing side input; `None` when the model has no `case_ids` input.
    pub casing: Option<Casing>,
    /// Entity BIO tags in logit order, `O` first (e.g. `B-PER`, `I-PER`, ...).
    pub entity_tags: Vec<String>,
    /// Value BIO tags in logit order, `O` first (`B-DATE`, `I-DATE`, ...); empty when the
    /// model has no value head.
    #[serde(default)]
    pub value_tags: Vec<String>,
    /// Predicate tags in logit order: `O`, `B-PRED`, `I-PRED`; empty when the model has
    /// no predicate tagger (phrases then come from [`ModelCard::phrase_scorer`]).
    #[serde(default)]
    pub phrase_tags: Vec<String>,
    /// The pair-conditioned phrase scorer, when the model has one.
    #[serde(default)]
    pub phrase_scorer: Option<PhraseScorer>,
    /// Print at most one relation per ordered pair (the best-scoring label) instead of
    /// every label above its threshold.
    #[serde(default)]
    pub one_relation_per_pair: bool,
    /// Size of the last axis of `rel_head` / `rel_tail`.
    pub relation_rank: usize,
    /// What a pair's relation logits add to the bilinear score, when the model has pair
    /// context (output `rel_context`).
    #[serde(default)]
    pub relation_context: Option<RelationContext>,
    /// Relation labels in the order of the relation axis.
    pub relations: Vec<RelationLabel>,
    /// Default decision thresholds.
    pub thresholds: Thresholds,
    /// Free-form description.
    #[serde(default)]
    pub description: String,
    /// Where the weights and training data came from.
    #[serde(default)]
    pub provenance: serde_json::Value,
    /// Development-set scores measured when the model was exported.
    #[serde(default)]
    pub dev_scores: serde_json::Value,
}

/// The ONNX file entry of the card.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnnxFile {
    /// File name, relative to the model folder.
    pub file: String,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
    /// `int8`, `fp16` or `fp32`.
    pub precision: String,
    /// ONNX opset of the graph.
    #[serde(default)]
    pub opset: u32,
}

/// Graph input names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inputs {
    /// Token ids, `[batch, sequence]` int64.
    pub input_ids: String,
    /// 1 for real tokens, 0 for padding, `[batch, sequence]` int64.
    pub attention_mask: String,
    /// Word-shape class per token, `[batch, sequence]` int64 (optional).
    pub case_ids: Option<String>,
}

/// Graph output names. Optional outputs belong to optional heads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outputs {
    /// `[batch, sequence, entity_tags]`.
    pub entity_logits: String,
    /// `[batch, sequence, value_tags]`.
    #[serde(default)]
    pub value_logits: Option<String>,
    /// `[batch, sequence, 3]`: the predicate tagger.
    #[serde(default)]
    pub phrase_logits: Option<String>,
    /// `[batch, sequence, rank + 1]`: per-token phrase projection, token bias last.
    #[serde(default)]
    pub phrase_token: Option<String>,
    /// `[batch, sequence, rank]`: averaged over a head mention's pieces.
    #[serde(default)]
    pub phrase_head: Option<String>,
    /// `[batch, sequence, rank]`: averaged over a tail mention's pieces.
    #[serde(default)]
    pub phrase_tail: Option<String>,
    /// `[batch, sequence, 2 × relations]`: per-token pair-context scores, max-pooled over
    /// the words between a pair (see [`RelationContext`]).
    #[serde(default)]
    pub rel_context: Option<String>,
    /// `[batch, sequence, relations, relation_rank]`.
    pub rel_head: String,
    /// `[batch, sequence, relations, relation_rank]`.
    pub rel_tail: String,
}

/// The casing side input's scheme.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Casing {
    /// Scheme name; erx implements `word-shape-v1`.
    pub scheme: String,
    /// Class names in id order.
    pub classes: Vec<String>,
}

/// One relation label of the relation head.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelationLabel {
    /// Label, e.g. `Work_For`.
    pub label: String,
    /// Label set it belongs to (`conll04`, `crossre`).
    pub schema: String,
    /// Decision threshold on the sigmoid score.
    pub threshold: f32,
    /// Allowed (head type, tail type) pairs; empty means any.
    #[serde(default)]
    pub signatures: Vec<(String, String)>,
}

/// The learned phrase scorer. For an ordered pair of mentions (h, t) the score of word i is
/// `phrase_token[i] · [mean_h phrase_head + mean_t phrase_tail, 1] + region_bias[region(i)]`,
/// read at each word's first piece; the phrase is the run of words with the highest
/// positive total (see [`crate::decode::choose_learned_phrase`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhraseScorer {
    /// Size of the `phrase_head` / `phrase_tail` rows (`phrase_token` has one more).
    pub rank: usize,
    /// Learned bias per word region, in the order before both mentions, between them,
    /// after both, inside the head, inside the tail.
    pub region_bias: [f32; 5],
}

/// Pair context of the relation head. For an ordered pair (head, tail) of mentions, label
/// `r`'s logit is the bilinear score plus
///
/// ```text
/// gap_bias[bucket][r] + mentions_between_bias[min(m, last)][r]
///   + max_w rel_context[w][r] - max_w rel_context[w][R + r]
/// ```
///
/// where `bucket` counts the words between the two mentions against `gap_edges` (offset by
/// `gap_edges.len() + 1` when the tail comes first), `m` is the number of other mentions
/// between them, and `w` runs over the words between (read at each word's first piece;
/// the last term is 0 when the mentions touch). The bilinear score sees each mention in
/// its own context only; these terms see what joins the two.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelationContext {
    /// Lower edges of the gap buckets after the first (`[1, 2, 3, 5, 8, 13, 21]`: buckets
    /// 0, 1, 2, 3–4, 5–7, 8–12, 13–20, 21+ words).
    pub gap_edges: Vec<usize>,
    /// `2 × (gap_edges.len() + 1)` rows of one bias per relation label: head first, then
    /// tail first.
    pub gap_bias: Vec<Vec<f32>>,
    /// One row per count of other mentions between the pair (the last row: that many or
    /// more), each one bias per relation label.
    pub mentions_between_bias: Vec<Vec<f32>>,
}

impl RelationContext {
    /// Row of `gap_bias` for `words_between` words, head first or not.
    pub fn gap_bucket(&self, head_first: bool, words_between: usize) -> usize {
        let b = self
            .gap_edges
            .iter()
            .filter(|&&e| words_between >= e)
            .count();
        if head_first {
            b
        } else {
            self.gap_edges.len() + 1 + b
        }
    }
}

/// Default thresholds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Thresholds {
    /// Relation score threshold used when a label has none of its own.
    pub relation: f32,
    /// Minimum predicate probability for a word to belong to a phrase.
    pub phrase: f32,
}

impl ModelCard {
    /// Reads and validates `erx.json` from a model folder.
    pub fn load(model_dir: &Path) -> Result<Self> {
        let path = model_dir.join("erx.json");
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let card: ModelCard = serde_json::from_str(&text).map_err(|e| Error::ModelCard {
            path: path.clone(),
            message: e.to_string(),
        })?;
        card.validate(&path)?;
        Ok(card)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |message: String| Error::ModelCard {
            path: path.to_path_buf(),
            message,
        };
        if self.entity_tags.first().map(String::as_str) != Some("O") {
            return Err(bad("entity_tags must start with \"O\"".into()));
        }
        for tag in &self.entity_tags[1..] {
            if !(tag.starts_with("B-") || tag.starts_with("I-")) || tag.len() < 3 {
                return Err(bad(format!("entity tag {tag:?} is not B-X or I-X")));
            }
        }
        if self.outputs.phrase_logits.is_some() && self.phrase_tags.len() != 3 {
            return Err(bad("phrase_tags must be [O, B-PRED, I-PRED]".into()));
        }
        if self.value_tags.is_empty() != self.outputs.value_logits.is_none() {
            return Err(bad(
                "value_tags and outputs.value_logits must be given together".into(),
            ));
        }
        if let Some(first) = self.value_tags.first() {
            if first != "O" {
                return Err(bad("value_tags must start with \"O\"".into()));
            }
        }
        let o = &self.outputs;
        let scorer_outputs = [&o.phrase_token, &o.phrase_head, &o.phrase_tail];
        let given = scorer_outputs.iter().filter(|x| x.is_some()).count();
        if given != 0 && given != 3 || (given == 3) != self.phrase_scorer.is_some() {
            return Err(bad(
                "phrase_scorer needs outputs phrase_token, phrase_head and \
                 phrase_tail, all three or none"
                    .into(),
            ));
        }
        if self.phrase_scorer.as_ref().is_some_and(|p| p.rank == 0) {
            return Err(bad("phrase_scorer.rank must be positive".into()));
        }
        if self.max_tokens < 8 {
            return Err(bad(format!("max_tokens {} is too small", self.max_tokens)));
        }
        if self.relation_rank == 0 {
            return Err(bad("relation_rank must be positive".into()));
        }
        if self.relation_context.is_some() != self.outputs.rel_context.is_some() {
            return Err(bad(
                "relation_context and outputs.rel_context must be given together".into(),
            ));
        }
        if let Some(c) = &self.relation_context {
            let n = self.relations.len();
            let rows_ok = |rows: &[Vec<f32>]| rows.iter().all(|row| row.len() == n);
            if !c.gap_edges.is_sorted()
                || c.gap_bias.len() != 2 * (c.gap_edges.len() + 1)
                || !rows_ok(&c.gap_bias)
                || c.mentions_between_bias.is_empty()
                || !rows_ok(&c.mentions_between_bias)
            {
                return Err(bad(format!(
                    "relation_context: need increasing gap_edges, 2 x (gap_edges + 1) \
                     gap_bias rows and at least one mentions_between_bias row, each of \
                     {n} values (one per relation)"
                )));
            }
        }
        if self.casing.is_some() != self.inputs.case_ids.is_some() {
            return Err(bad(
                "casing and inputs.case_ids must be given together".into()
            ));
        }
        if let Some(c) = &self.casing {
            if c.scheme != crate::tokenize::CASE_SCHEME {
                return Err(bad(format!(
                    "casing scheme {:?} is not supported (this erx implements {:?})",
                    c.scheme,
                    crate::tokenize::CASE_SCHEME
                )));
            }
        }
        Ok(())
    }

    /// Path of the ONNX file inside `model_dir`.
    pub fn onnx_path(&self, model_dir: &Path) -> PathBuf {
        model_dir.join(&self.onnx.file)
    }
}

/// Lower-case hex sha256 of `bytes`, the form model cards and corpus records store.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
