//! "Did you mean" suggestions.

/// The candidate closest to `input`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let input_lower = input.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&input_lower, &c.to_lowercase()),
                c,
            )
        })
        .filter(|(distance, c)| {
            *distance <= (c.chars().count() / 3).max(1) && (*distance > 0 || input != *c)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["connectors", "webhooks", "clone", "after"];
        assert_eq!(did_you_mean("conectors", keys), Some("connectors"));
        assert_eq!(did_you_mean("webhook", keys), Some("webhooks"));
        assert_eq!(did_you_mean("Clone", keys), Some("clone"));
        assert_eq!(did_you_mean("zzz", keys), None);
        assert_eq!(did_you_mean("ap", ["us", "eu"]), None);
        assert_eq!(
            did_you_mean("gogle", ["google", "microsoft"]),
            Some("google")
        );
    }
}
