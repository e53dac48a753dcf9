//! Rules about what a plan points at outside itself: region API URLs, the state URL and
//! `{ file: }` secrets (inside the plan's folder unless trusted).

use std::path::Path;

use super::{Rules, is_loopback};
use crate::api::Region;
use crate::code::Code;
use crate::plan::diagnostic::PlanDiagnostic;
use crate::plan::model::{Pair, SecretRef, SettingValue};
use crate::plan::trust::{self, ALLOW_API_HOSTS_VAR, ALLOW_SECRET_DIRS_VAR, Trust};
use crate::yaml::Node;

impl Rules<'_> {
    pub(super) fn region_urls(&mut self, trust: &Trust) {
        for region in Region::ALL {
            let pointer = format!("/regions/{region}/api_url");
            let Some(api_url) = self.root.pointer(&pointer).and_then(Node::as_str) else {
                continue;
            };
            match check_api_url(api_url) {
                Err(problem) => self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanBadUrl,
                        self.span(&pointer),
                        format!("the {region} API URL {problem}"),
                    )
                    .label("not usable as an API base URL")
                    .help(format!(
                        "the default is {}; plain http is only allowed to a loopback address (a local simulator)",
                        region.default_api_url()
                    )),
                ),
                Ok(host) if !trust.allows_api_host(&host) => self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanApiHostNotAllowed,
                        self.span(&pointer),
                        format!(
                            "the {region} API URL sends the API keys to `{host}`, not a Nylas API host"
                        ),
                    )
                    .label(format!(
                        "not {} or a loopback address",
                        trust::nylas_hosts().join(", ")
                    ))
                    .help(format!(
                        "a plan cannot choose where its secrets go. If `{host}` is yours (a proxy, a staging endpoint), allow it outside the plan: \
                         `--allow-api-host {host}` or {ALLOW_API_HOSTS_VAR}={host} in the environment of the run"
                    )),
                ),
                Ok(_) => {}
            }
        }
    }

    /// The state URL's `{ file: }` stays in the plan's folder, as every secret file.
    pub(super) fn state_file(&mut self, trust: &Trust, plan_dir: &Path) {
        const POINTER: &str = "/state/postgres/url/file";
        let Some(path) = self.root.pointer(POINTER).and_then(Node::as_str) else {
            return;
        };
        self.outside_plan_folder(POINTER.to_owned(), Path::new(path), trust, plan_dir);
    }

    /// `{ file: }` secrets stay in the plan's folder unless the run allows another.
    pub(super) fn secret_files(&mut self, i: usize, pair: &Pair, trust: &Trust, plan_dir: &Path) {
        let mut files: Vec<(String, &Path)> = Vec::new();
        let base = format!("/pairs/{i}");
        if let SecretRef::File(path) = &pair.v2.client_secret {
            files.push((format!("{base}/v2/client_secret/file"), path));
        }
        if let SecretRef::File(path) = &pair.v3.api_key {
            files.push((format!("{base}/v3/api_key/file"), path));
        }
        for (j, connector) in pair.connectors.iter().enumerate() {
            let Some(settings) = &connector.settings else {
                continue;
            };
            let settings_ptr = format!("{base}/connectors/{j}/settings");
            if let Some(SettingValue::Secret(SecretRef::File(path))) = &settings.client_id {
                files.push((format!("{settings_ptr}/client_id/file"), path));
            }
            if let Some(SecretRef::File(path)) = &settings.client_secret {
                files.push((format!("{settings_ptr}/client_secret/file"), path));
            }
        }
        for (pointer, path) in files {
            self.outside_plan_folder(pointer, path, trust, plan_dir);
        }
    }

    pub(super) fn outside_plan_folder(
        &mut self,
        pointer: String,
        path: &Path,
        trust: &Trust,
        plan_dir: &Path,
    ) {
        if trust.allows_secret_path(plan_dir, path) {
            return;
        }
        let shown = path.display().to_string();
        self.out.push(
            PlanDiagnostic::new(
                Code::PlanSecretFileOutside,
                self.span(&pointer),
                format!("the secret file `{shown}` is outside the plan's folder"),
            )
            .label("outside the plan's folder")
            .help(format!(
                "a plan cannot read files of its choosing from the machine that runs it. Keep the file beside the plan, or allow its folder outside the plan: \
                 `--allow-secret-dir DIR` or {ALLOW_SECRET_DIRS_VAR}=DIR in the environment of the run"
            )),
        );
    }
}

/// The API URL's host, if the URL is usable as a base URL.
fn check_api_url(raw: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err("uses plain http to a host that is not a loopback address".into()),
        other => return Err(format!("uses the scheme `{other}`, not https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        // As the client refuses it (`api::endpoint`): `validate` and `plan` agree.
        return Err(
            "has a user name or password in it (`user:password@`); the API key is sent as a header, never in the URL".into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("has a query or fragment".into());
    }
    url.host_str()
        .map(str::to_owned)
        .ok_or_else(|| "has no host".to_owned())
}
