//! Every way the commands show what they have to say, apart from what they compute: a run's
//! events as human lines, progress bars or JSON lines; the HTML report page; the markdown of
//! `plan`, `status` and `verify`.

pub mod bars;
pub mod html;
pub mod human;
pub mod json;
pub mod markdown;
