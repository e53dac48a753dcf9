//! The forms Nylas requires of notification targets and callback URIs: a Pub/Sub topic name, an
//! SNS topic ARN and the IAM role Nylas assumes to publish to it, a webhook URL and a redirect
//! URI per platform. The simulator refuses what breaks them with these reasons, and the plan's
//! validator can give the same ones before anything is sent.
//!
//! Each check returns `Err` with a sentence that says what the value must look like.

use std::net::IpAddr;

use reqwest::Url;

use super::enums::RedirectPlatform;

/// A Google Cloud Pub/Sub topic: `projects/<project>/topics/<topic>`. The project is a project
/// ID (lowercase letters, digits, hyphens; a domain-scoped one as `example.com:project`); the
/// topic ID starts with a letter and has 3 to 255 letters, digits or `-_.~+%`, as Google
/// requires.
pub fn check_pubsub_topic(topic: &str) -> Result<(), String> {
    let form = "a Pub/Sub topic has the form projects/<project>/topics/<topic>";
    let parts: Vec<&str> = topic.split('/').collect();
    let ["projects", project, "topics", name] = parts.as_slice() else {
        return Err(format!("{form}, not {topic:?}"));
    };
    if project.is_empty()
        || !project
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.:".contains(&b))
    {
        return Err(format!(
            "{form}: the project {project:?} must be a Google Cloud project ID (lowercase letters, digits and hyphens)"
        ));
    }
    let starts_with_letter = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
    if !(3..=255).contains(&name.len())
        || !starts_with_letter
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~+%".contains(&b))
    {
        return Err(format!(
            "{form}: the topic ID {name:?} must start with a letter and have 3 to 255 letters, digits or -_.~+%"
        ));
    }
    Ok(())
}

/// Whether `s` is an AWS account ID: twelve digits.
fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An Amazon SNS topic ARN: `arn:aws:sns:<region>:<account-id>:<topic>`, the topic name 1 to
/// 256 letters, digits, hyphens or underscores (a FIFO topic ends in `.fifo`).
pub fn check_sns_topic_arn(arn: &str) -> Result<(), String> {
    let form = "an SNS topic is an ARN of the form arn:aws:sns:<region>:<account-id>:<topic>";
    let Some(rest) = arn.strip_prefix("arn:aws:sns:") else {
        return Err(format!(
            "{form} (it must start with arn:aws:sns:), not {arn:?}"
        ));
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let [region, account, name] = parts.as_slice() else {
        return Err(format!("{form}, not {arn:?}"));
    };
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!("{form}: {region:?} is not an AWS region"));
    }
    if !is_account_id(account) {
        return Err(format!(
            "{form}: the account ID {account:?} must be 12 digits"
        ));
    }
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    if !(1..=256).contains(&name.len())
        || base.is_empty()
        || !base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "{form}: the topic name {name:?} must have 1 to 256 letters, digits, hyphens or underscores"
        ));
    }
    Ok(())
}

/// The IAM role Nylas assumes to publish to an SNS topic:
/// `arn:aws:iam::<account-id>:role/<role-name>` (a role path, `role/<path>/<name>`, is
/// allowed), the name 1 to 64 letters, digits or `+=,.@_-`.
pub fn check_iam_role_arn(arn: &str) -> Result<(), String> {
    let form = "role_arn has the form arn:aws:iam::<account-id>:role/<role-name>";
    let Some(rest) = arn.strip_prefix("arn:aws:iam::") else {
        return Err(format!("{form}, not {arn:?}"));
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return Err(format!("{form}, not {arn:?}"));
    };
    if !is_account_id(account) {
        return Err(format!(
            "{form}: the account ID {account:?} must be 12 digits"
        ));
    }
    let Some(path) = resource.strip_prefix("role/") else {
        return Err(format!("{form}: {resource:?} does not name a role"));
    };
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b);
    let segments: Vec<&str> = path.split('/').collect();
    let name = segments.last().copied().unwrap_or_default();
    if !(1..=64).contains(&name.len())
        || segments
            .iter()
            .any(|s| s.is_empty() || !s.bytes().all(allowed))
    {
        return Err(format!(
            "{form}: the role name {path:?} must have 1 to 64 letters, digits or +=,.@_-"
        ));
    }
    Ok(())
}

/// Whether a URL's host is this machine: `localhost`, or a loopback address (`127.0.0.0/8`,
/// `::1`).
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A URL as Nylas stores it (lower-case scheme and host, `/` for an empty path), so that
/// `https://Hooks.Example.com` and `https://hooks.example.com/` name one destination; text that
/// is not a URL is kept as it is. (`engine::observe::normalized_url` matches live destinations
/// the same way.)
pub fn normalized_url(url: &str) -> String {
    Url::parse(url).map_or_else(|_| url.to_owned(), |u| u.to_string())
}

/// An `https` URL with a host, or an `http` one on this machine (for local development: Nylas
/// itself only reaches public HTTPS endpoints).
fn check_web_url(url: &str, what: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("{what} {url:?} is not a URL: {e}"))?;
    if parsed.host().is_none() {
        return Err(format!("{what} {url:?} has no host"));
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(format!(
            "{what} {url:?} must use https (http is only accepted for localhost)"
        )),
        other => Err(format!("{what} {url:?} must be an https URL, not {other}:")),
    }
}

/// A webhook URL Nylas can deliver to: `https`, or `http` on this machine.
pub fn check_webhook_url(url: &str) -> Result<Url, String> {
    check_web_url(url, "webhook_url")
}

/// A redirect (callback) URI for `platform`: `https`, or `http` on localhost; for `ios` and
/// `android` also a deep link, `<package-or-bundle-name>://<path>`.
pub fn check_redirect_uri(url: &str, platform: RedirectPlatform) -> Result<(), String> {
    let mobile = matches!(platform, RedirectPlatform::Ios | RedirectPlatform::Android);
    if mobile
        && let Ok(parsed) = Url::parse(url)
        && !matches!(parsed.scheme(), "http" | "https")
    {
        let (_, rest) = url.split_once("://").unwrap_or((url, ""));
        return if parsed.scheme().contains('.') || !rest.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "a {platform} redirect URI {url:?} must be https or a deep link <package-or-bundle-name>://<path>"
            ))
        };
    }
    let what = format!("a {platform} redirect URI");
    check_web_url(url, &what).map(|_| ()).map_err(|e| {
        if mobile {
            format!(
                "{e}; a {platform} app may also use a deep link <package-or-bundle-name>://<path>"
            )
        } else {
            e
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pubsub_topics() {
        check_pubsub_topic("projects/acme-prod/topics/nylas-events").unwrap();
        check_pubsub_topic("projects/example.com:acme/topics/n.events~1").unwrap();
        for bad in [
            "nylas-events",
            "projects/acme/topics/",
            "projects//topics/events",
            "projects/Acme/topics/events",
            "projects/acme/topics/1events",
            "projects/acme/topics/ev",
            "projects/acme/subscriptions/events",
            "projects/acme/topics/events/extra",
        ] {
            assert!(check_pubsub_topic(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sns_arns() {
        check_sns_topic_arn("arn:aws:sns:us-east-1:123456789012:nylas-events").unwrap();
        check_sns_topic_arn("arn:aws:sns:eu-west-1:123456789012:events.fifo").unwrap();
        for bad in [
            "arn:aws:sqs:us-east-1:123456789012:q",
            "arn:aws:sns:us-east-1:1234:events",
            "arn:aws:sns::123456789012:events",
            "arn:aws:sns:us-east-1:123456789012:",
            "arn:aws:sns:us-east-1:123456789012:a:b",
            "projects/acme/topics/events",
        ] {
            assert!(check_sns_topic_arn(bad).is_err(), "{bad}");
        }
        check_iam_role_arn("arn:aws:iam::123456789012:role/nylas-publisher").unwrap();
        check_iam_role_arn("arn:aws:iam::123456789012:role/service/nylas@acme").unwrap();
        for bad in [
            "arn:aws:iam::123456789012:user/bob",
            "arn:aws:iam:us-east-1:123456789012:role/r",
            "arn:aws:iam::12345678901x:role/r",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
        ] {
            assert!(check_iam_role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls() {
        check_webhook_url("https://hooks.acme.example/nylas").unwrap();
        check_webhook_url("http://127.0.0.1:8080/hook").unwrap();
        check_webhook_url("http://localhost/hook").unwrap();
        check_webhook_url("http://[::1]:9/hook").unwrap();
        assert!(check_webhook_url("http://hooks.acme.example/nylas").is_err());
        assert!(check_webhook_url("ftp://hooks.acme.example").is_err());
        assert!(check_webhook_url("nope").is_err());
        check_redirect_uri("https://app.acme.example/cb", RedirectPlatform::Web).unwrap();
        check_redirect_uri("http://localhost:3000/cb", RedirectPlatform::Desktop).unwrap();
        check_redirect_uri("com.acme.app://oauth", RedirectPlatform::Ios).unwrap();
        check_redirect_uri("acmeapp://callback", RedirectPlatform::Android).unwrap();
        assert!(check_redirect_uri("acmeapp://callback", RedirectPlatform::Web).is_err());
        assert!(check_redirect_uri("http://app.acme.example/cb", RedirectPlatform::Js).is_err());
        assert!(check_redirect_uri("http://app.acme.example/cb", RedirectPlatform::Ios).is_err());
    }
}
