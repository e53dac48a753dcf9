//! The plan file: its model, loading with source spans, and validation.
