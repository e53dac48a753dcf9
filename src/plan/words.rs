//! How lists of names read in messages.

/// `a`, `a or b`, `a, b or c`, each in backticks.
pub fn either(names: impl IntoIterator<Item = impl std::fmt::Display>) -> String {
    listed(names, "or")
}

/// `a`, `a and b`, `a, b and c`, each in backticks.
pub fn all_of(names: impl IntoIterator<Item = impl std::fmt::Display>) -> String {
    listed(names, "and")
}

fn listed(names: impl IntoIterator<Item = impl std::fmt::Display>, conjunction: &str) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} {conjunction} {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_sentences() {
        assert_eq!(either(["a"]), "`a`");
        assert_eq!(either(["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(all_of(["a", "b"]), "`a` and `b`");
        assert_eq!(all_of(Vec::<&str>::new()), "");
    }
}
