//! Every way the commands show what they have to say, apart from what they compute: a run's
//! events as human lines, progress bars or JSON lines.

pub mod bars;
pub mod human;
pub mod json;
