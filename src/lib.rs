//! # erx — entity and relation extraction for news text
//!
//! erx turns raw English text into a small graph: named entities (people, organisations,
//! locations, other names) with exact character offsets, merged across the document, and
//! typed relations between them with the phrase that expresses each one. One ONNX model
//! does entities, predicates and relations in a single forward pass on ONNX Runtime.
//!
//! The pipeline, one module per stage, data flowing one way:
//!
//! | stage | module | what it does |
//! |---|---|---|
//! | text | [`text`] | sentence boundaries |
//! | tokenize | [`tokenize`] | word pieces, byte offsets, casing side input |
//! | window | [`window`] | sentences packed into model windows, long ones chunked with overlap |
//! | model | [`infer`] | ONNX Runtime sessions, batched forward passes |
//! | decode | [`decode`] | BIO Viterbi, mentions, relation scores, phrases, open links (pure) |
//! | document | [`document`] | one label per name, entity merging, output schema, code-point offsets |
//!
//! [`Extractor`] ties them together. Offsets in the output are Unicode **code-point**
//! offsets, so in Python `text[m["start"]:m["end"]] == m["text"]`.
//!
//! ```
//! use erx::{Extractor, Options};
//!
//! # fn main() -> Result<(), erx::Error> {
//! // Load once; `Extractor` is Send + Sync, share it between threads.
//! let extractor = Extractor::load("models/erx-news-v2", Options::default())?;
//! let text = "The State Department denied a visa to Choe Son Hui, a senior North Korean diplomat.";
//! let doc = extractor.extract(text)?;
//! for entity in &doc.entities {
//!     println!("{} {} ({} mentions)", entity.label, entity.text, entity.mentions.len());
//! }
//! for rel in &doc.relations {
//!     println!("{} -[{}: {}]-> {}", rel.head, rel.label, rel.phrase, rel.tail);
//! }
//! // offsets are code points: the same slice in Python is text[start:end]
//! let choe = doc.entities.iter().find(|e| e.text == "Choe Son Hui").expect("found");
//! let m = &choe.mentions[0];
//! assert_eq!(text.chars().skip(m.start).take(m.end - m.start).collect::<String>(), "Choe Son Hui");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod card;
pub mod decode;
pub mod document;
pub mod error;
pub mod eval;
pub mod extractor;
pub mod infer;
pub mod record;
pub mod text;
pub mod tokenize;
pub mod window;

pub use card::ModelCard;
pub use document::{Document, Entity, Mention, Meta, Relation};
pub use error::{Error, Result};
pub use extractor::{Extractor, Options, Sentences, Stats};
pub use infer::Device;
