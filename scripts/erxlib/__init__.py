"""Python side of erx: data readers, the model, featurisation and decoding shared by
training, export and evaluation. The Rust crate mirrors `features` and `decode`."""
