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
    /// Predicate tags in logit order: `O`, `B-PRED`, `I-PRED`.
    pub phrase_tags: Vec<String>,
    /// Size of the last axis of `rel_head` / `rel_tail`.
    pub relation_rank: usize,
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

/// Graph output names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outputs {
    /// `[batch, sequence, entity_tags]`.
    pub entity_logits: String,
    /// `[batch, sequence, 3]`.
    pub phrase_logits: String,
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
        if self.phrase_tags.len() != 3 {
            return Err(bad("phrase_tags must be [O, B-PRED, I-PRED]".into()));
        }
        if self.max_tokens < 8 {
            return Err(bad(format!("max_tokens {} is too small", self.max_tokens)));
        }
        if self.relation_rank == 0 {
            return Err(bad("relation_rank must be positive".into()));
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
