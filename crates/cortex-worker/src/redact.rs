//! Secret masking for the `input` echoed in error documents.
//!
//! cortexutils replaces the value of *top-level* `config` keys whose lower-cased name contains `key`,
//! `password` or `secret` with `"REMOVED"`. This module masks more, because error documents end up in
//! TheHive and Cortex where many people can read them:
//! * every key at **any depth** under `config` (inside objects and arrays) whose lower-cased name contains
//!   `key`, `password`, `passwd`, `secret`, `token`, `auth` or `credential` gets the string `"REMOVED"` as its
//!   value, whatever the value was (string, number, object, even `null`);
//! * except keys that name a location rather than a secret: a lower-cased name ending in `_dir`, `_path` or
//!   `_file` (e.g. `token_dir`) keeps its value, though anything nested under it is still examined;
//! * every remaining string under `config` that is a URL with a password in its userinfo
//!   (`scheme://user:pass@host/...`) becomes `scheme://user:REMOVED@host/...`.
//!
//! `data`, `parameters` and the rest of the input are never altered.

use safekeeping::redact::{REMOVED, redact_url_password};
use serde_json::Value;

const SECRET_WORDS: [&str; 7] = ["key", "password", "passwd", "secret", "token", "auth", "credential"];
const LOCATION_SUFFIXES: [&str; 3] = ["_dir", "_path", "_file"];

/// A copy of `input` safe to echo in an error document.
pub(crate) fn redact_input(input: &Value) -> Value {
    let mut copy = input.clone();
    if let Some(config) = copy.get_mut("config") {
        redact_config_value(config);
    }
    copy
}

pub(crate) fn redact_config_value(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, item) in map.iter_mut() {
                if is_secret_key(name) {
                    *item = Value::String(REMOVED.to_owned());
                } else {
                    redact_config_value(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_config_value),
        Value::String(text) => {
            if let Some(redacted) = redact_url_password(text) {
                *text = redacted;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

pub(crate) fn is_secret_key(name: &str) -> bool {
    let name = name.to_lowercase();
    let is_location = LOCATION_SUFFIXES.iter().any(|suffix| name.ends_with(suffix));
    !is_location && SECRET_WORDS.iter().any(|word| name.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use safekeeping::redact::redact_userinfo_password;
    use serde_json::json;

    #[test]
    fn masks_cortexutils_keys_at_top_level_whatever_the_type() {
        let input = json!({"config": {
            "api_key": "k", "KEY": 5, "monkey": null, "client_secret": {"a": 1}, "Password": ["x"],
            "PaSSword2": true, "service": "close_incident", "max_tlp": 2
        }});
        assert_eq!(
            redact_input(&input),
            json!({"config": {
                "api_key": "REMOVED", "KEY": "REMOVED", "monkey": "REMOVED", "client_secret": "REMOVED",
                "Password": "REMOVED", "PaSSword2": "REMOVED", "service": "close_incident", "max_tlp": 2
            }})
        );
    }

    #[test]
    fn masks_extra_words_at_any_depth() {
        let input = json!({"config": {
            "token": "t", "passwd": "p", "Authorization": "Bearer x", "credentials": {"user": "u"},
            "nested": {"api_key": "k", "list": [{"refresh_token": "r", "name": "n"}]}
        }});
        assert_eq!(
            redact_input(&input),
            json!({"config": {
                "token": "REMOVED", "passwd": "REMOVED", "Authorization": "REMOVED", "credentials": "REMOVED",
                "nested": {"api_key": "REMOVED", "list": [{"refresh_token": "REMOVED", "name": "n"}]}
            }})
        );
    }

    #[test]
    fn location_keys_stay_visible_but_their_contents_are_examined() {
        let input = json!({"config": {
            "token_dir": "/opt/mdr/tokens", "KEY_FILE": "/etc/k.pem", "secret_path": null,
            "auth_dir": {"password": "p"}, "token_directory": "x"
        }});
        assert_eq!(
            redact_input(&input),
            json!({"config": {
                "token_dir": "/opt/mdr/tokens", "KEY_FILE": "/etc/k.pem", "secret_path": null,
                "auth_dir": {"password": "REMOVED"}, "token_directory": "REMOVED"
            }})
        );
    }

    #[test]
    fn url_passwords_are_masked_anywhere_under_config() {
        let input = json!({"config": {
            "proxy_http": "http://bob:hunter2@proxy.example:3128",
            "proxy": {"https": "https://bob:p@ss/w@rd@proxy.example:3128/x?q=1"},
            "urls": ["ftp://anon@host/", "https://host/users/@me", "mailto:a:b@c"],
            "api_url": "https://mdr.example.invalid/api/v1"
        }});
        assert_eq!(
            redact_input(&input),
            json!({"config": {
                "proxy_http": "http://bob:REMOVED@proxy.example:3128",
                "proxy": {"https": "https://bob:REMOVED@proxy.example:3128/x?q=1"},
                "urls": ["ftp://anon@host/", "https://host/users/@me", "mailto:a:b@c"],
                "api_url": "https://mdr.example.invalid/api/v1"
            }})
        );
    }

    #[test]
    fn data_and_parameters_are_never_masked() {
        let input = json!({
            "data": {"api_key": "k", "url": "http://u:p@h"},
            "parameters": {"token": "t"},
            "config": "http://u:p@h"
        });
        assert_eq!(
            redact_input(&input),
            json!({"data": {"api_key": "k", "url": "http://u:p@h"}, "parameters": {"token": "t"}, "config": "http://u:REMOVED@h"})
        );
    }

    #[test]
    fn passwords_with_raw_query_or_fragment_characters_are_masked() {
        assert_eq!(
            redact_url_password("http://bob:Pa#ss@proxy:3128").as_deref(),
            Some("http://bob:REMOVED@proxy:3128")
        );
        assert_eq!(redact_url_password("http://bob:p?ss@proxy:3128").as_deref(), Some("http://bob:REMOVED@proxy:3128"));
        assert_eq!(redact_url_password("http://u:a@b?c@host/").as_deref(), Some("http://u:REMOVED@host/"));
        assert_eq!(redact_userinfo_password("bob:Pa#ss@proxy:3128").as_deref(), Some("bob:REMOVED@proxy:3128"));
        assert_eq!(redact_url_password("https://host/users/@me?x=a:b"), None);
    }

    #[test]
    fn invalid_schemes_are_not_urls() {
        assert_eq!(redact_url_password("1http://u:p@h"), None);
        assert_eq!(redact_url_password("://u:p@h"), None);
        assert_eq!(redact_url_password("svn+ssh://u:p@h").as_deref(), Some("svn+ssh://u:REMOVED@h"));
    }

    #[test]
    fn text_before_the_scheme_does_not_hide_a_password() {
        assert_eq!(redact_url_password(" http://u:p@h").as_deref(), Some(" http://u:REMOVED@h"));
        assert_eq!(redact_url_password("proxy=http://u:p@h").as_deref(), Some("proxy=http://u:REMOVED@h"));
        assert_eq!(redact_url_password("é http://u:p@h").as_deref(), Some("é http://u:REMOVED@h"));
    }
}
