//! The [`Extractor`]: loads a model folder once and runs the pipeline
//! text → sentences → pieces → windows → model → decode → document.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::card::ModelCard;
use crate::decode::{self, RelationSpec, TokenRows};
use crate::document::{self, Document, Meta, RawMention, RawRelation};
use crate::error::{Error, Result};
use crate::infer::{Batch, BatchOutput, Device, Model, SessionConfig};
use crate::tokenize::{CharIndex, SentenceTokenizer, TokenizedSentence};
use crate::window::{self, Window};

/// How [`Extractor`] cuts a text into sentences. Relations are only read within a
/// sentence; consecutive sentences still share model windows, so each is read with
/// its neighbours as context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sentences {
    /// Find sentence boundaries (the default; see [`crate::text::split_sentences`]).
    #[default]
    Split,
    /// Each non-blank line is one sentence: for input that is already split.
    Lines,
    /// The whole text is one sentence.
    Whole,
}

/// Settings of an [`Extractor`]. `Options::default()` suits a CPU service.
#[derive(Debug, Clone)]
pub struct Options {
    /// Intra-op threads per ONNX Runtime session (default: 1).
    pub threads: usize,
    /// Sessions in the pool, i.e. forward passes that may run at once, both across
    /// concurrent calls and within one `extract_batch` (default: 2). On CPU, two
    /// single-threaded sessions outrun one session with two threads.
    pub sessions: usize,
    /// Padded pieces per forward pass (windows × padded length; default: 512, which
    /// measured fastest on CPU; a GPU wants far larger batches).
    pub batch_tokens: usize,
    /// Most windows per forward pass (default: 1). int8 dynamic quantisation picks its
    /// activation scales per pass, so with one window per pass a document's results never
    /// depend on what else is batched with it; on CPU this costs no measurable speed.
    /// Raise it (with `batch_tokens`) for GPUs.
    pub batch_windows: usize,
    /// Execution provider (default: CPU).
    pub device: Device,
    /// Pieces per window including the two special tokens (default: the card's `max_tokens`).
    pub window_tokens: Option<usize>,
    /// Pieces shared by consecutive chunks of an over-long sentence (default: a quarter
    /// of the window, at most 32).
    pub overlap_tokens: Option<usize>,
    /// Override of every relation label's threshold.
    pub relation_threshold: Option<f32>,
    /// Override of the predicate-phrase threshold.
    pub phrase_threshold: Option<f32>,
    /// How a text is cut into sentences (default: [`Sentences::Split`]).
    pub sentences: Sentences,
    /// Give all mentions of one name in a text one label, by majority (default: true; see
    /// [`crate::document::harmonise_labels`]). Relations whose argument types no longer
    /// fit their label are then dropped.
    pub harmonise_labels: bool,
    /// Also link mentions through predicted predicates, label-free (schema `open`, label
    /// `subject-object`; default: true; see [`crate::decode::decode_open_relations`]).
    /// Only models with a predicate tagger (the version-1 contract) have any.
    pub open_relations: bool,
    /// ONNX Runtime library; default `ORT_DYLIB_PATH`, then next to the executable, then
    /// `.ort/libonnxruntime.so`.
    pub runtime_library: Option<PathBuf>,
    /// Check the ONNX file against the sha256 in `erx.json` (default: true).
    pub verify_checksum: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: 1,
            sessions: 2,
            batch_tokens: 512,
            batch_windows: 1,
            device: Device::Cpu,
            window_tokens: None,
            overlap_tokens: None,
            relation_threshold: None,
            phrase_threshold: None,
            sentences: Sentences::Split,
            harmonise_labels: true,
            open_relations: true,
            runtime_library: None,
            verify_checksum: true,
        }
    }
}

impl Options {
    /// These options with `threads` ONNX Runtime threads in all, shared out among
    /// `sessions` sessions; by default one single-threaded session per thread, which is
    /// faster on CPU than one session with several threads. `sessions` is clamped to
    /// `1..=threads`.
    pub fn with_threads(self, threads: usize, sessions: Option<usize>) -> Result<Options> {
        if threads == 0 {
            return Err(Error::Options("threads must be at least 1".to_string()));
        }
        let sessions = sessions.unwrap_or(threads).clamp(1, threads);
        Ok(Options {
            threads: (threads / sessions).max(1),
            sessions,
            ..self
        })
    }
}

/// Time spent per stage and volume processed, summed over calls (for `erx bench`).
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Sentence splitting.
    pub split: Duration,
    /// Tokenizing and casing.
    pub tokenize: Duration,
    /// Packing windows and building batches.
    pub batch: Duration,
    /// Forward passes.
    pub infer: Duration,
    /// Decoding and assembling documents.
    pub decode: Duration,
    /// Documents.
    pub documents: usize,
    /// Sentences.
    pub sentences: usize,
    /// Real pieces fed to the model (specials included).
    pub tokens: usize,
    /// Padded slots fed to the model (rows × padded length).
    pub padded_tokens: usize,
    /// Windows.
    pub windows: usize,
    /// Forward passes.
    pub batches: usize,
}

impl Stats {
    /// Adds another worker's counts and times.
    pub fn add(&mut self, o: &Stats) {
        self.split += o.split;
        self.tokenize += o.tokenize;
        self.batch += o.batch;
        self.infer += o.infer;
        self.decode += o.decode;
        self.documents += o.documents;
        self.sentences += o.sentences;
        self.tokens += o.tokens;
        self.padded_tokens += o.padded_tokens;
        self.windows += o.windows;
        self.batches += o.batches;
    }
}

/// Entity and relation extraction with one model. Load once, call from any thread.
///
/// `Extractor` is `Send + Sync`; concurrent calls share the tokenizer and run forward
/// passes on a pool of [`Options::sessions`] ONNX Runtime sessions.
pub struct Extractor {
    card: ModelCard,
    tokenizer: SentenceTokenizer,
    model: Model,
    spec: RelationSpec,
    options: Options,
    phrase_threshold: f32,
    window_budget: usize,
    overlap: usize,
}

impl std::fmt::Debug for Extractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extractor")
            .field("model", &self.card.name)
            .field("options", &self.options)
            .finish()
    }
}

/// Where a sentence's pieces sit in the current batch.
struct Placement {
    doc: usize,
    sentence: usize,
    /// (row in batch, piece range of the sentence, position of its first piece in the row)
    parts: Vec<(usize, Range<usize>, usize)>,
}

struct SentenceRows<'a> {
    out: BatchOutput<'a>,
    owners: Vec<(usize, usize)>,
}

impl TokenRows for SentenceRows<'_> {
    fn entity(&self, t: usize) -> &[f32] {
        let (r, p) = self.owners[t];
        self.out.entity(r, p)
    }
    fn phrase(&self, t: usize) -> &[f32] {
        let (r, p) = self.owners[t];
        self.out.phrase(r, p)
    }
    fn rel_head(&self, t: usize) -> &[f32] {
        let (r, p) = self.owners[t];
        self.out.rel_head(r, p)
    }
    fn rel_tail(&self, t: usize) -> &[f32] {
        let (r, p) = self.owners[t];
        self.out.rel_tail(r, p)
    }
    fn value(&self, t: usize) -> &[f32] {
        let (r, p) = self.owners[t];
        self.out.value(r, p)
    }
    fn phrase_token(&self, t: usize) -> &[f32] {
        let (r, p) = self.owners[t];
        self.out.phrase_token(r, p)
    }
    fn phrase_head(&self, t: usize) -> &[f32] {
        let (r, p) = self.owners[t];
        self.out.phrase_head(r, p)
    }
    fn phrase_tail(&self, t: usize) -> &[f32] {
        let (r, p) = self.owners[t];
        self.out.phrase_tail(r, p)
    }
    fn rel_context(&self, t: usize) -> &[f32] {
        let (r, p) = self.owners[t];
        self.out.rel_context(r, p)
    }
}

/// Per-document state while a batch of documents is in flight.
#[derive(Default)]
struct DocState {
    sentences: Vec<TokenizedSentence>,
    windows: Vec<Window>,
    decoded: Vec<Decoded>,
    mentions: Vec<RawMention>,
    relations: Vec<RawRelation>,
}

/// Decoded mentions and relations of one sentence (relation ends index its mentions).
struct Decoded {
    doc: usize,
    sentence: usize,
    mentions: Vec<RawMention>,
    relations: Vec<RawRelation>,
}

impl Extractor {
    /// Loads `erx.json`, `tokenizer.json` and the ONNX graph from `model_dir`.
    pub fn load(model_dir: impl AsRef<Path>, options: Options) -> Result<Self> {
        let dir = model_dir.as_ref();
        let card = ModelCard::load(dir)?;
        let onnx = card.onnx_path(dir);
        if options.verify_checksum {
            verify_sha256(&onnx, &card.onnx.sha256)?;
        }
        let tokenizer =
            SentenceTokenizer::from_file(&dir.join(&card.tokenizer), card.casing.is_some())?;
        let window_tokens = options.window_tokens.unwrap_or(card.max_tokens);
        if window_tokens < 8 || window_tokens > card.max_tokens.max(512) {
            return Err(Error::Options(format!(
                "window length {window_tokens} must be between 8 and {}",
                card.max_tokens.max(512)
            )));
        }
        let overlap = options
            .overlap_tokens
            .unwrap_or((window_tokens / 4).min(32));
        if overlap * 2 >= window_tokens - 2 {
            return Err(Error::Options(format!(
                "overlap {overlap} must be less than half the window length {window_tokens}"
            )));
        }
        let spec = RelationSpec {
            thresholds: card
                .relations
                .iter()
                .map(|r| options.relation_threshold.unwrap_or(r.threshold))
                .collect(),
            signatures: card
                .relations
                .iter()
                .map(|r| r.signatures.clone())
                .collect(),
            rank: card.relation_rank,
            context: card.relation_context.clone(),
        };
        let phrase_threshold = options.phrase_threshold.unwrap_or(card.thresholds.phrase);
        let config = SessionConfig {
            threads: options.threads,
            sessions: options.sessions,
            device: options.device,
            library: options.runtime_library.clone(),
        };
        let model = Model::load(&onnx, card.clone(), &config)?;
        Ok(Extractor {
            card,
            tokenizer,
            model,
            spec,
            options,
            phrase_threshold,
            window_budget: window_tokens - 2,
            overlap,
        })
    }

    /// The model card of the loaded model.
    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// The execution provider that runs the model (`cpu` or `cuda`).
    pub fn provider(&self) -> &'static str {
        self.model.provider()
    }

    /// The options the extractor was loaded with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Extracts entities and relations from one text.
    pub fn extract(&self, text: &str) -> Result<Document> {
        let mut docs = self.extract_batch(&[text])?;
        Ok(docs
            .pop()
            .unwrap_or_else(|| empty_document(&self.card.name, self.provider())))
    }

    /// Extracts from several texts at once; windows of all texts share forward passes,
    /// which is faster than one call per text. Output order equals input order.
    pub fn extract_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Document>> {
        self.extract_batch_with_stats(texts, &mut Stats::default())
    }

    /// [`Extractor::extract_batch`], adding time per stage and volumes to `stats`.
    pub fn extract_batch_with_stats<S: AsRef<str>>(
        &self,
        texts: &[S],
        stats: &mut Stats,
    ) -> Result<Vec<Document>> {
        let mut states: Vec<DocState> = Vec::with_capacity(texts.len());
        for text in texts {
            let text = text.as_ref();
            let t0 = Instant::now();
            let sentences = match self.options.sentences {
                Sentences::Split => crate::text::split_sentences(text),
                Sentences::Lines => crate::text::lines(text),
                Sentences::Whole => crate::text::whole(text),
            };
            let t1 = Instant::now();
            let sentences = self.tokenizer.tokenize(text, &sentences)?;
            let t2 = Instant::now();
            let lengths: Vec<usize> = sentences.iter().map(TokenizedSentence::len).collect();
            let starts: Vec<Vec<usize>> = sentences
                .iter()
                .map(|s| s.words.iter().map(|w| w.first_token).collect())
                .collect();
            let windows = window::pack(&lengths, &starts, self.window_budget, self.overlap);
            stats.split += t1 - t0;
            stats.tokenize += t2 - t1;
            stats.batch += t2.elapsed();
            states.push(DocState {
                sentences,
                windows,
                ..DocState::default()
            });
        }

        let t0 = Instant::now();
        let plans = self.plan_batches(&states);
        stats.batch += t0.elapsed();
        // Forward passes run on up to `sessions` threads at once (one session each);
        // results are keyed by sentence, so the output does not depend on timing.
        let workers = self.options.sessions.min(plans.len()).max(1);
        let next = AtomicUsize::new(0);
        let work = |stats: &mut Stats| -> Result<Vec<Decoded>> {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(plan) = plans.get(i) else {
                    return Ok(out);
                };
                out.extend(self.run_plan(&states, plan, stats)?);
            }
        };
        let results: Vec<(Result<Vec<Decoded>>, Stats)> = if workers == 1 {
            let mut st = Stats::default();
            vec![(work(&mut st), st)]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut st = Stats::default();
                            (work(&mut st), st)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            (
                                Err(Error::Runtime("a worker thread panicked".into())),
                                Stats::default(),
                            )
                        })
                    })
                    .collect()
            })
        };
        for (result, st) in results {
            stats.add(&st);
            for d in result? {
                let slot = &mut states[d.doc].decoded;
                slot.push(d);
            }
        }
        for st in &mut states {
            st.decoded.sort_by_key(|d| d.sentence);
            for d in std::mem::take(&mut st.decoded) {
                let offset = st.mentions.len();
                st.mentions.extend(d.mentions);
                st.relations.extend(d.relations.into_iter().map(|mut r| {
                    r.head += offset;
                    r.tail += offset;
                    r
                }));
            }
        }

        let t0 = Instant::now();
        if self.options.harmonise_labels {
            for (text, st) in texts.iter().zip(&mut states) {
                document::harmonise_document(
                    text.as_ref(),
                    &mut st.mentions,
                    &mut st.relations,
                    &self.card.relations,
                );
            }
        }
        stats.decode += t0.elapsed();

        let t0 = Instant::now();
        let docs = texts
            .iter()
            .zip(states)
            .map(|(text, st)| {
                let text = text.as_ref();
                stats.documents += 1;
                stats.sentences += st.sentences.len();
                let meta = Meta {
                    model: self.card.name.clone(),
                    sentences: st.sentences.len(),
                    tokens: st.sentences.iter().map(TokenizedSentence::len).sum(),
                    windows: st.windows.len(),
                    truncated: false,
                    provider: self.provider().to_string(),
                };
                document::assemble(
                    text,
                    &CharIndex::new(text),
                    &st.mentions,
                    &st.relations,
                    meta,
                    None,
                    self.card.one_relation_per_pair,
                )
            })
            .collect();
        stats.decode += t0.elapsed();
        Ok(docs)
    }

    /// Groups windows into forward passes: windows of one over-long sentence stay
    /// together (so it decodes from one batch), and similar lengths share a batch.
    fn plan_batches(&self, states: &[DocState]) -> Vec<Vec<(usize, Range<usize>)>> {
        let mut units: Vec<(usize, usize, Range<usize>)> = Vec::new(); // (len, doc, windows)
        for (d, st) in states.iter().enumerate() {
            let mut start = 0;
            for w in 0..st.windows.len() {
                let continues = st.windows.get(w + 1).is_some_and(|next| {
                    let last = st.windows[w].segments.last().map(|s| s.sentence);
                    next.segments.first().map(|s| s.sentence) == last
                });
                if !continues {
                    let len = st.windows[start..=w]
                        .iter()
                        .map(Window::len)
                        .max()
                        .unwrap_or(0)
                        + 2;
                    units.push((len, d, start..w + 1));
                    start = w + 1;
                }
            }
        }
        units.sort_by_key(|u| u.0);
        let mut batches = Vec::new();
        let mut current: Vec<(usize, Range<usize>)> = Vec::new();
        let (mut rows, mut cols) = (0usize, 0usize);
        for (len, doc, ws) in units {
            let n = ws.len();
            let full = (rows + n) * cols.max(len) > self.options.batch_tokens
                || rows + n > self.options.batch_windows.max(1);
            if !current.is_empty() && full {
                batches.push(std::mem::take(&mut current));
                rows = 0;
                cols = 0;
            }
            rows += n;
            cols = cols.max(len);
            current.push((doc, ws));
        }
        if !current.is_empty() {
            batches.push(current);
        }
        batches
    }

    fn build_batch(
        &self,
        states: &[DocState],
        plan: &[(usize, Range<usize>)],
    ) -> (Batch, Vec<Placement>) {
        let rows: usize = plan.iter().map(|(_, ws)| ws.len()).sum();
        let cols = plan
            .iter()
            .flat_map(|(d, ws)| states[*d].windows[ws.clone()].iter().map(Window::len))
            .max()
            .unwrap_or(0)
            + 2;
        let mut batch = Batch {
            ids: vec![self.tokenizer.pad; rows * cols],
            case_ids: vec![0; rows * cols],
            mask: vec![0; rows * cols],
            rows,
            cols,
        };
        let mut placements: Vec<Placement> = Vec::new();
        let mut row = 0;
        for (d, ws) in plan {
            for w in &states[*d].windows[ws.clone()] {
                let base = row * cols;
                batch.ids[base] = self.tokenizer.cls;
                batch.mask[base] = 1;
                let mut pos = 1;
                for seg in &w.segments {
                    let s = &states[*d].sentences[seg.sentence];
                    let n = seg.tokens.len();
                    batch.ids[base + pos..base + pos + n]
                        .copy_from_slice(&s.ids[seg.tokens.clone()]);
                    batch.case_ids[base + pos..base + pos + n]
                        .copy_from_slice(&s.case_ids[seg.tokens.clone()]);
                    batch.mask[base + pos..base + pos + n].fill(1);
                    let part = (row, seg.tokens.clone(), pos);
                    match placements.last_mut() {
                        Some(p) if p.doc == *d && p.sentence == seg.sentence => p.parts.push(part),
                        _ => placements.push(Placement {
                            doc: *d,
                            sentence: seg.sentence,
                            parts: vec![part],
                        }),
                    }
                    pos += n;
                }
                batch.ids[base + pos] = self.tokenizer.sep;
                batch.mask[base + pos] = 1;
                row += 1;
            }
        }
        (batch, placements)
    }

    /// Builds, runs and decodes one forward pass.
    fn run_plan(
        &self,
        states: &[DocState],
        plan: &[(usize, Range<usize>)],
        stats: &mut Stats,
    ) -> Result<Vec<Decoded>> {
        let t0 = Instant::now();
        let (batch, placements) = self.build_batch(states, plan);
        stats.batches += 1;
        stats.padded_tokens += batch.rows * batch.cols;
        stats.tokens += batch.mask.iter().filter(|&&m| m == 1).count();
        stats.windows += batch.rows;
        let t1 = Instant::now();
        let mut t2 = t1;
        // decoding reads the outputs in place, so it happens inside `run`
        let decoded = self.model.run(batch, |out| {
            t2 = Instant::now();
            placements
                .iter()
                .map(|p| self.decode_sentence(out, p, &states[p.doc]))
                .collect()
        })?;
        stats.batch += t1 - t0;
        stats.infer += t2 - t1;
        stats.decode += t2.elapsed();
        Ok(decoded)
    }

    fn decode_sentence(&self, out: BatchOutput<'_>, p: &Placement, st: &DocState) -> Decoded {
        let mut decoded = Decoded {
            doc: p.doc,
            sentence: p.sentence,
            mentions: Vec::new(),
            relations: Vec::new(),
        };
        let sentence = &st.sentences[p.sentence];
        let rows = SentenceRows {
            out,
            owners: window::owners(sentence.len(), &p.parts),
        };
        let words = &sentence.words;
        let card = &self.card;
        let mentions = decode::decode_entities(words, &rows, &card.entity_tags);
        let values = decode::decode_values(words, &rows, &card.value_tags);
        let bytes = |r: &Range<usize>| words[r.start].bytes.start..words[r.end - 1].bytes.end;
        let raw_mention = |m: &decode::WordSpan, value: bool| RawMention {
            bytes: bytes(&m.words),
            label: m.label.clone(),
            score: m.score,
            value,
        };
        // names first: relation ends index them
        decoded.mentions = mentions.iter().map(|m| raw_mention(m, false)).collect();
        decoded
            .mentions
            .extend(values.iter().map(|m| raw_mention(m, true)));
        if mentions.len() < 2 {
            return decoded;
        }
        let raw = |head, tail, label: &str, schema: &str, score, phrase: Option<&Range<usize>>| {
            RawRelation {
                head,
                tail,
                label: label.to_string(),
                schema: schema.to_string(),
                score,
                phrase: phrase.map(bytes),
            }
        };
        // v1 models read phrases off a predicate tagger; v2 models learn them per pair
        let predicates = match card.outputs.phrase_logits {
            Some(_) => decode::decode_predicates(words, &rows, self.phrase_threshold),
            None => Vec::new(),
        };
        let relations = if card.one_relation_per_pair || card.phrase_scorer.is_some() {
            decode::decode_relations_per_pair(
                words,
                &rows,
                &mentions,
                &self.spec,
                card.phrase_scorer.as_ref(),
            )
        } else {
            decode::decode_relations(words, &rows, &mentions, &predicates, &self.spec)
        };
        decoded.relations = relations
            .iter()
            .map(|r| {
                let label = &card.relations[r.label];
                raw(
                    r.head,
                    r.tail,
                    &label.label,
                    &label.schema,
                    r.score,
                    r.phrase.as_ref(),
                )
            })
            .collect();
        if self.options.open_relations && card.outputs.phrase_logits.is_some() {
            let open = decode::decode_open_relations(words, &mentions, &predicates);
            decoded.relations.extend(open.iter().map(|r| {
                raw(
                    r.head,
                    r.tail,
                    OPEN_LABEL,
                    OPEN_SCHEMA,
                    r.score,
                    Some(&r.phrase),
                )
            }));
        }
        decoded
    }
}

/// Schema and label of the label-free links read off predicates.
const OPEN_SCHEMA: &str = "open";
const OPEN_LABEL: &str = "subject-object";

fn empty_document(model: &str, provider: &str) -> Document {
    Document {
        id: None,
        entities: Vec::new(),
        relations: Vec::new(),
        meta: Meta {
            model: model.to_string(),
            provider: provider.to_string(),
            ..Meta::default()
        },
    }
}

fn verify_sha256(path: &Path, expected: &str) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let found = crate::card::sha256_hex(&bytes);
    if found != expected.to_ascii_lowercase() {
        return Err(Error::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            found,
        });
    }
    Ok(())
}
