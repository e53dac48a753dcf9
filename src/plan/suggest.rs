//! "Did you mean" suggestions.

/// Longest input or candidate compared, in bytes: twice the longest name a plan allows.
const MAX_LEN: usize = 128;

/// The candidate closest to `input`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // Edit distance costs the product of the lengths: two 20,000-character pair names (which
    // the lenient cross-pair rules still compare) took minutes. Nobody mistypes text that long.
    if input.len() > MAX_LEN {
        return None;
    }
    let input_lower = input.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| c.len() <= MAX_LEN)
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
        let long = "a".repeat(100_000);
        assert_eq!(did_you_mean(&long, [long.as_str()]), None);
    }
}
