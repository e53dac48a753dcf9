//! The step graph built from a valid plan.
