//! Settings resolved from the command line, the environment and the config file (in that order
//! of precedence), and the credential as a type that never prints itself.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::cli::WatchArgs;

/// The default API base URL (Trigger.dev Cloud).
pub const DEFAULT_API_URL: &str = "https://api.trigger.dev";

/// A credential: a secret key or a public access token. `Debug` and `Display` print a mask, so
/// it cannot leak through logs, panics or error messages by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The raw value, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What kind of credential this looks like, for messages.
    pub fn kind(&self) -> &'static str {
        if self.0.starts_with("tr_") {
            "secret key"
        } else if self.0.matches('.').count() == 2 {
            "access token"
        } else {
            "credential"
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted {}>)", self.kind())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {}>", self.kind())
    }
}

/// The config file, as documented in `config.example.toml`.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// API base URL.
    pub api_url: Option<String>,
    /// Name of an environment variable that holds the credential.
    pub token_env: Option<String>,
    /// A file whose first line is the credential.
    pub token_file: Option<PathBuf>,
    /// How often elapsed times refresh, per second.
    pub refresh_rate: Option<f64>,
    /// Status (API name, lower case) to colour name or `#rrggbb`.
    #[serde(default)]
    pub colors: BTreeMap<String, String>,
}

/// Why settings could not be resolved.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0:?} is not a valid API URL: {1}")]
    ApiUrl(String, String),
    #[error("cannot read token_file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("refresh_rate must be between 0.2 and 60 per second, not {0}")]
    RefreshRate(f64),
    #[error("unknown colour {value:?} for {status:?} in the config file")]
    Color { status: String, value: String },
    #[error(
        "refusing to send the {kind} over plain http:// to {host}, which is not this machine; use \
         https:// (or pass --allow-insecure-http if you really mean it)"
    )]
    InsecureHttp { kind: &'static str, host: String },
}

/// Where the config file lives by default (`~/.config/trigger-tui/config.toml` on Linux).
pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "trigger", "trigger-tui")
        .map(|dirs| dirs.config_dir().join("config.toml"))
}

/// Reads the config file: an explicit path must exist; the default path may be missing.
/// Returns the file and warnings (e.g. a file other users can read).
pub fn load_file(explicit: Option<&Path>) -> Result<(FileConfig, Vec<String>), ConfigError> {
    let (path, required) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match default_config_path() {
            Some(p) => (p, false),
            None => return Ok((FileConfig::default(), Vec::new())),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((FileConfig::default(), Vec::new()));
        }
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let file: FileConfig = toml::from_str(&text).map_err(|e| {
        // The message only, with the line number: toml's own Display quotes the offending
        // line, which may hold a credential pasted in the wrong place.
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let message = match line {
            Some(line) => format!("line {line}: {}", e.message()),
            None => e.message().to_string(),
        };
        ConfigError::Parse {
            path: path.clone(),
            message,
        }
    })?;
    let mut warnings = Vec::new();
    if readable_by_others(&path) {
        warnings.push(format!(
            "config file {} can be read by other users; run `chmod 600` on it",
            path.display()
        ));
    }
    Ok((file, warnings))
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> bool {
    false
}

/// Everything the dashboard needs to start, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub api_url: reqwest::Url,
    pub token: Option<Secret>,
    /// Where the credential came from, for messages (never the value).
    pub token_source: Option<String>,
    pub tick_rate: Duration,
    pub colors: BTreeMap<String, ratatui::style::Color>,
}

/// Resolves settings: command line, then environment, then config file, then defaults.
/// `env` is the environment lookup (a parameter so tests need not touch the real one).
pub fn resolve(
    args: &WatchArgs,
    file: &FileConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let api_text = args
        .api_url
        .clone()
        .or_else(|| env("TRIGGER_API_URL").filter(|s| !s.is_empty()))
        .or_else(|| file.api_url.clone())
        .unwrap_or_else(|| DEFAULT_API_URL.to_string());
    let api_url = reqwest::Url::parse(api_text.trim())
        .map_err(|e| ConfigError::ApiUrl(api_text.clone(), e.to_string()))?;
    if !matches!(api_url.scheme(), "http" | "https") || api_url.host_str().is_none() {
        return Err(ConfigError::ApiUrl(
            api_text,
            "use an http:// or https:// URL".into(),
        ));
    }

    let mut token = None;
    for name in ["TRIGGER_SECRET_KEY", "TRIGGER_ACCESS_TOKEN"] {
        if let Some(value) = env(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            token = Some((Secret::new(value), name.to_string()));
            break;
        }
    }
    if token.is_none()
        && let Some(name) = &file.token_env
        && let Some(value) = env(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    {
        token = Some((Secret::new(value), name.clone()));
    }
    if token.is_none()
        && let Some(path) = &file.token_file
    {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::TokenFile {
            path: path.clone(),
            source,
        })?;
        if let Some(line) = text.lines().next().map(str::trim).filter(|l| !l.is_empty()) {
            token = Some((
                Secret::new(line.to_string()),
                format!("token_file {}", path.display()),
            ));
        }
    }

    let rate = file.refresh_rate.unwrap_or(4.0);
    if !(0.2..=60.0).contains(&rate) {
        return Err(ConfigError::RefreshRate(rate));
    }
    let mut colors = BTreeMap::new();
    for (status, value) in &file.colors {
        let color = value
            .parse::<ratatui::style::Color>()
            .map_err(|_| ConfigError::Color {
                status: status.clone(),
                value: value.clone(),
            })?;
        colors.insert(status.to_ascii_lowercase(), color);
    }

    let (token, token_source) = match token {
        Some((t, s)) => (Some(t), Some(s)),
        None => (None, None),
    };
    if let Some(t) = &token {
        check_transport(&api_url, t, args.allow_insecure_http)?;
    }
    Ok(Settings {
        api_url,
        token,
        token_source,
        tick_rate: Duration::from_secs_f64(1.0 / rate),
        colors,
    })
}

/// A credential goes over plain http only to this machine, unless the user insists.
pub fn check_transport(url: &reqwest::Url, token: &Secret, allow: bool) -> Result<(), ConfigError> {
    if url.scheme() != "http" || allow {
        return Ok(());
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if loopback {
        return Ok(());
    }
    Err(ConfigError::InsecureHttp {
        kind: token.kind(),
        host: url.host_str().unwrap_or_default().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn args(extra: &[&str]) -> WatchArgs {
        let mut argv = vec!["trigger-tui"];
        argv.extend_from_slice(extra);
        Cli::parse_from(argv).watch
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn secret_never_prints_itself() {
        let s = Secret::new("tr_dev_supersecret".into());
        assert!(!format!("{s:?} {s}").contains("supersecret"));
        assert_eq!(s.kind(), "secret key");
        assert_eq!(Secret::new("a.b.c".into()).kind(), "access token");
    }

    #[test]
    fn cli_beats_env_beats_file() {
        let file = FileConfig {
            api_url: Some("https://file.example".into()),
            ..Default::default()
        };
        let env = env_of(&[("TRIGGER_API_URL", "https://env.example")]);
        let s = resolve(&args(&[]), &file, &env).unwrap();
        assert_eq!(s.api_url.as_str(), "https://env.example/");
        let s = resolve(&args(&["--api-url", "https://cli.example"]), &file, &env).unwrap();
        assert_eq!(s.api_url.as_str(), "https://cli.example/");
        let s = resolve(&args(&[]), &file, &env_of(&[])).unwrap();
        assert_eq!(s.api_url.as_str(), "https://file.example/");
        let s = resolve(&args(&[]), &FileConfig::default(), &env_of(&[])).unwrap();
        assert_eq!(s.api_url.as_str(), "https://api.trigger.dev/");
    }

    #[test]
    fn secret_key_wins_over_access_token() {
        let env = env_of(&[
            ("TRIGGER_SECRET_KEY", "tr_dev_x"),
            ("TRIGGER_ACCESS_TOKEN", "a.b.c"),
        ]);
        let s = resolve(&args(&[]), &FileConfig::default(), &env).unwrap();
        assert_eq!(s.token.unwrap().expose(), "tr_dev_x");
        let s = resolve(
            &args(&[]),
            &FileConfig::default(),
            &env_of(&[("TRIGGER_ACCESS_TOKEN", "a.b.c")]),
        )
        .unwrap();
        assert_eq!(s.token_source.as_deref(), Some("TRIGGER_ACCESS_TOKEN"));
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused() {
        let env = env_of(&[("TRIGGER_SECRET_KEY", "tr_dev_x")]);
        let err = resolve(
            &args(&["--api-url", "http://trigger.example.com"]),
            &FileConfig::default(),
            &env,
        )
        .unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
        assert!(!err.to_string().contains("tr_dev_x"));
        for ok in [
            "http://127.0.0.1:8787",
            "http://localhost:3030",
            "http://[::1]:80",
        ] {
            assert!(
                resolve(&args(&["--api-url", ok]), &FileConfig::default(), &env).is_ok(),
                "{ok}"
            );
        }
        let insecure = args(&[
            "--api-url",
            "http://trigger.example.com",
            "--allow-insecure-http",
        ]);
        assert!(resolve(&insecure, &FileConfig::default(), &env).is_ok());
    }

    #[test]
    fn config_file_parses_every_documented_setting() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"))
                .unwrap();
        let file: FileConfig = toml::from_str(&text).unwrap();
        let s = resolve(&args(&[]), &file, &env_of(&[])).unwrap();
        assert_eq!(s.tick_rate, Duration::from_millis(250));
        assert!(s.colors.contains_key("completed"));
    }

    #[test]
    fn bad_settings_are_clear_errors() {
        let err = toml::from_str::<FileConfig>("api_ur = 'x'").unwrap_err();
        assert!(err.to_string().contains("api_ur"));
        let bad_color = FileConfig {
            colors: [("completed".to_string(), "blurple".to_string())].into(),
            ..Default::default()
        };
        assert!(matches!(
            resolve(&args(&[]), &bad_color, &env_of(&[])),
            Err(ConfigError::Color { .. })
        ));
        let bad_rate = FileConfig {
            refresh_rate: Some(0.0),
            ..Default::default()
        };
        assert!(resolve(&args(&[]), &bad_rate, &env_of(&[])).is_err());
        assert!(
            resolve(
                &args(&["--api-url", "ftp://x"]),
                &FileConfig::default(),
                &env_of(&[])
            )
            .is_err()
        );
    }

    #[test]
    fn a_parse_error_never_quotes_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "refresh_rate = 4\ntoken = \"tr_dev_inline_secret\"\n",
        )
        .unwrap();
        let err = load_file(Some(&path)).unwrap_err().to_string();
        assert!(!err.contains("inline_secret"), "{err}");
        assert!(err.contains("line 2") && err.contains("token"), "{err}");
    }

    #[test]
    fn file_that_others_can_read_gets_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "api_url = 'https://x.example'\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, warnings) = load_file(Some(&path)).unwrap();
        assert_eq!(warnings.len(), 1);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (_, warnings) = load_file(Some(&path)).unwrap();
        assert!(warnings.is_empty());
        assert!(load_file(Some(&dir.path().join("missing.toml"))).is_err());
    }
}
