//! Build-only crate: it holds no code. Depending on it makes every member of
//! the workspace resolve the large shared dependencies with one feature set,
//! so building a single crate never recompiles DataFusion with other features.
