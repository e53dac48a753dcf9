//! Every output format a command renders besides its human text and JSON lines.

pub mod html;
pub mod markdown;
