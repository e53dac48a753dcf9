//! Which base URL each region's calls go to. Nylas's public hosts by default; the plan may
//! override either (a proxy, a staging host, the local simulator).

use std::collections::BTreeMap;
use std::net::IpAddr;

use reqwest::Url;

use crate::api::Region;

/// A base URL refused as a region's endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum EndpointError {
    #[error("`{url}` is not a valid API URL for region {region}: {reason}")]
    #[diagnostic(
        code("api::endpoint"),
        help("write an absolute URL such as https://api.us.nylas.com")
    )]
    Invalid {
        region: Region,
        url: String,
        reason: String,
    },
    #[error(
        "plain http is refused for region {region} (`{url}`): the API key would travel unencrypted"
    )]
    #[diagnostic(
        code("api::plain-http"),
        help(
            "use https, or point the region at a loopback address (127.0.0.1, ::1, localhost) such as the local simulator"
        )
    )]
    PlainHttp { region: Region, url: String },
}

/// The base URL of every region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    urls: BTreeMap<Region, Url>,
}

impl Default for Endpoints {
    fn default() -> Endpoints {
        let urls = Region::ALL
            .into_iter()
            .map(|region| {
                let url = Url::parse(region.default_api_url())
                    .unwrap_or_else(|_| unreachable!("the built-in API URLs are valid"));
                (region, url)
            })
            .collect();
        Endpoints { urls }
    }
}

impl Endpoints {
    /// Replaces one region's base URL, refusing anything but https, or plain http to a
    /// loopback host.
    pub fn with_override(mut self, region: Region, url: &str) -> Result<Endpoints, EndpointError> {
        self.set(region, url)?;
        Ok(self)
    }

    pub fn set(&mut self, region: Region, url: &str) -> Result<(), EndpointError> {
        let parsed = validate(region, url)?;
        self.urls.insert(region, parsed);
        Ok(())
    }

    /// The region's base URL.
    pub fn base_url(&self, region: Region) -> &Url {
        // Every region has an entry from `default`, and entries are only ever replaced.
        &self.urls[&region]
    }
}

fn validate(region: Region, raw: &str) -> Result<Url, EndpointError> {
    let invalid = |reason: &str| EndpointError::Invalid {
        region,
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials in the URL are not allowed; the API key is sent as a header",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment is not allowed in a base URL"));
    }
    let loopback = is_loopback(
        url.host_str()
            .ok_or_else(|| invalid("the URL has no host"))?,
    );
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(EndpointError::PlainHttp {
            region,
            url: raw.to_owned(),
        }),
        other => Err(invalid(&format!("scheme `{other}` is not http or https"))),
    }
}

/// `host` as `Url::host_str` gives it: IPv6 literals in brackets.
pub(crate) fn is_loopback(host: &str) -> bool {
    let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
    match unbracketed.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        // RFC 6761 reserves `localhost` for the loopback interface.
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Code;

    #[test]
    fn defaults_are_nylas_hosts() {
        let endpoints = Endpoints::default();
        assert_eq!(
            endpoints.base_url(Region::Us).as_str(),
            "https://api.us.nylas.com/"
        );
        assert_eq!(
            endpoints.base_url(Region::Eu).as_str(),
            "https://api.eu.nylas.com/"
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let ok = [
            "http://127.0.0.1:8080",
            "http://127.3.4.5",
            "http://[::1]:9000/",
            "http://localhost:1234",
            "https://proxy.example.com/nylas",
        ];
        for url in ok {
            assert!(
                Endpoints::default().with_override(Region::Us, url).is_ok(),
                "{url}"
            );
        }
        let refused = [
            "http://api.us.nylas.com",
            "http://10.0.0.1",
            "http://localhost.evil.example",
            "ftp://127.0.0.1",
            "https://user:pw@api.us.nylas.com",
            "not a url",
        ];
        for url in refused {
            assert!(
                Endpoints::default().with_override(Region::Eu, url).is_err(),
                "{url}"
            );
        }
        assert!(matches!(
            Endpoints::default().with_override(Region::Us, "http://api.us.nylas.com"),
            Err(EndpointError::PlainHttp { .. })
        ));
        let code = |url| {
            let err = Endpoints::default()
                .with_override(Region::Us, url)
                .unwrap_err();
            miette::Diagnostic::code(&err).unwrap().to_string()
        };
        assert_eq!(code("http://10.0.0.1"), Code::ApiPlainHttp.as_str());
        assert_eq!(code("not a url"), Code::ApiEndpoint.as_str());
    }
}
