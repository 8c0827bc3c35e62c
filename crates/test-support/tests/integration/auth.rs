//! Tokens (docs/mdr-api.md#tokens), routing and client-id handling over real HTTP.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use test_support::{BearerState, Sandbox, SandboxOptions, Seed};

use crate::common::{Api, split, start};

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn confirm(sandbox: &Sandbox, body: Value) -> (u16, Value) {
    let url = format!("{}/{}/session/confirm", sandbox.api_url(), sandbox.client_id());
    split(Client::new().post(url).json(&body).send().unwrap())
}

#[test]
fn session_confirm_rotates_and_refresh_tokens_are_single_use() {
    let sandbox = start();
    let first = sandbox.issue_tokens(3600);
    assert!(sandbox.refresh_token_usable(&first.refresh_token));

    let (status, body) = confirm(&sandbox, json!({"refresh_token": first.refresh_token}));
    assert_eq!(status, 200);
    let obj = body.as_object().unwrap();
    assert_eq!(obj.len(), 2, "exactly access_token and refresh_token: {body}");
    let access = obj["access_token"].as_str().unwrap();
    let refresh = obj["refresh_token"].as_str().unwrap();
    assert_ne!(refresh, first.refresh_token);
    assert!(!sandbox.refresh_token_usable(&first.refresh_token));
    assert!(sandbox.refresh_token_usable(refresh));

    let c = claims(access);
    assert_eq!(c["typ"], "access");
    assert!(c["sub"].as_str().unwrap().starts_with("0123456789abcdef+"));
    let lifetime = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3600);
    assert_eq!(claims(refresh)["exp"].as_i64().unwrap() - claims(refresh)["iat"].as_i64().unwrap(), 7 * 24 * 3600);

    // The new access token works; reusing the consumed refresh token does not.
    let url = format!("{}/{}/incidents/count", sandbox.api_url(), sandbox.client_id());
    let resp = Client::new().post(url).bearer_auth(access).json(&json!({})).send().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (status, body) = confirm(&sandbox, json!({"refresh_token": first.refresh_token}));
    assert_eq!(status, 403);
    assert!(body["message"].is_string());
    // The rotated one still works once.
    assert_eq!(confirm(&sandbox, json!({"refresh_token": refresh})).0, 200);
}

#[test]
fn session_confirm_rejects_bad_input() {
    let sandbox = start();
    assert_eq!(confirm(&sandbox, json!({})).0, 400);
    assert_eq!(confirm(&sandbox, json!({"refresh_token": "abc.def.ghi"})).0, 403);
    // An access token is not a refresh token.
    let pair = sandbox.issue_tokens(3600);
    assert_eq!(confirm(&sandbox, json!({"refresh_token": pair.access_token})).0, 403);
}

#[test]
fn expired_refresh_token_is_refused() {
    let mut opts = SandboxOptions::new(Seed::default_demo());
    opts.refresh_ttl = std::time::Duration::ZERO;
    let sandbox = Sandbox::start(opts).unwrap();
    let pair = sandbox.issue_tokens(3600);
    assert!(!sandbox.refresh_token_usable(&pair.refresh_token));
    let (status, body) = confirm(&sandbox, json!({"refresh_token": pair.refresh_token}));
    assert_eq!(status, 403);
    assert_eq!(body["message"], "refresh token expired");
}

#[test]
fn bearer_is_required_valid_and_unexpired() {
    let api = Api::new();
    let url = api.url("incidents/list");
    let expired = api.sandbox.issue_tokens(-5);
    let cases = [
        (None, BearerState::Missing),
        (Some("not-a-token".to_owned()), BearerState::Unknown),
        (Some(expired.access_token.clone()), BearerState::Expired),
        (Some(expired.refresh_token.clone()), BearerState::Unknown),
    ];
    for (token, _) in &cases {
        let mut req = api.client.post(&url).json(&json!({}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let (status, body) = split(req.send().unwrap());
        assert_eq!(status, 403, "token {token:?}");
        assert!(body["message"].is_string());
    }
    let states: Vec<BearerState> = api.sandbox.calls("incidents/list").iter().map(|e| e.bearer).collect();
    assert_eq!(states, cases.iter().map(|c| c.1).collect::<Vec<_>>());
    assert!(api.sandbox.calls("incidents/list").iter().all(|e| e.status == 403));
    // The expired pair's refresh token is still valid.
    assert!(api.sandbox.refresh_token_usable(&expired.refresh_token));
    let (status, _) = api.post("incidents/list", json!({}));
    assert_eq!(status, 200);
    assert_eq!(api.sandbox.calls("incidents/list").last().unwrap().bearer, BearerState::Valid);
}

#[test]
fn unknown_client_id_wrong_route_and_method() {
    let api = Api::new();
    let base = api.sandbox.api_url();
    let resp = api
        .client
        .post(format!("{base}/ffffffffffffffff/incidents/list"))
        .bearer_auth(&api.token)
        .json(&json!({}))
        .send()
        .unwrap();
    let (status, body) = split(resp);
    assert_eq!((status, body), (404, json!({"message": "unknown client id"})));
    let entry = api.sandbox.journal().last().cloned().unwrap();
    assert_eq!(entry.client_id, "ffffffffffffffff");
    assert_eq!(entry.endpoint, "incidents/list");

    let (status, body) = split(api.client.post(format!("{base}/nope")).json(&json!({})).send().unwrap());
    assert_eq!(status, 404);
    assert!(body["message"].is_string());
    let (status, _) = api.post("incidents/explode", json!({}));
    assert_eq!(status, 404);
    let resp = api.client.get(api.url("incidents/list")).bearer_auth(&api.token).send().unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    // Non-object bodies are 400 whatever the content type.
    let resp = api.client.post(api.url("incidents/list")).bearer_auth(&api.token).body("[1]").send().unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let resp = api.client.post(api.url("incidents/count")).bearer_auth(&api.token).body("{}").send().unwrap();
    assert_eq!(resp.status().as_u16(), 200, "JSON accepted without a JSON content type");
}

#[test]
fn token_dir_holds_a_valid_pair() {
    let sandbox = start();
    let dir = tempfile::tempdir().unwrap();
    let pair = sandbox.write_token_dir(dir.path(), 60).unwrap();
    let access = std::fs::read_to_string(dir.path().join(".access_token")).unwrap();
    let refresh = std::fs::read_to_string(dir.path().join(".refresh_token")).unwrap();
    assert_eq!(access, pair.access_token);
    assert_eq!(refresh, pair.refresh_token);
    assert!(!access.ends_with('\n'));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(".access_token")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(sandbox.refresh_token_usable(&refresh));
    let debug = format!("{pair:?}");
    assert!(!debug.contains(&pair.access_token) && !debug.contains(&pair.refresh_token));
}

#[test]
fn a_held_caller_waits_until_released_and_others_pass() {
    let sandbox = start();
    sandbox.hold("session/confirm", "slow-caller");
    let (first, second) = (sandbox.issue_tokens(60), sandbox.issue_tokens(60));
    let url = format!("{}/{}/session/confirm", sandbox.api_url(), sandbox.client_id());
    let held = std::thread::spawn(move || {
        let client = Client::builder().user_agent("slow-caller/1").build().unwrap();
        split(client.post(url).json(&json!({"refresh_token": first.refresh_token})).send().unwrap())
    });
    assert_eq!(sandbox.wait_held(1, std::time::Duration::from_secs(20)), 1);
    // Another caller is answered while the first one waits.
    assert_eq!(confirm(&sandbox, json!({"refresh_token": second.refresh_token})).0, 200);
    assert!(!held.is_finished());
    sandbox.release();
    assert_eq!(held.join().unwrap().0, 200);
    assert_eq!(sandbox.held(), 0);
}
