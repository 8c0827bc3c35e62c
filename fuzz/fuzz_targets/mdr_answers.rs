//! Any bytes as the body of an MDR API answer, decoded as the client decodes each call's answer
//! (incidents, comments, responses, assets, attachments, the token pair of `session/confirm`) and
//! as an error answer's message. A decoding failure must stay a short error with no token in it.
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use safekeeping::Secret;
use mdr_api::client::{self, Asset, Attachment, Comment, Incident, MdrError, MdrResponse};
use mdr_api::token::{TokenPair, jwt_expiry};
use serde_json::Value;

/// Longest error text a bad body may give: the message, the endpoint and a shortened preview.
const MAX_ERROR_CHARS: usize = 1_000;

fn check<T: Debug>(result: Result<T, MdrError>) {
    match result {
        Ok(value) => drop(format!("{value:?}")),
        Err(error) => check_message(&error.to_string()),
    }
}

fn check_message(text: &str) {
    assert!(text.chars().count() <= MAX_ERROR_CHARS, "an error of {} chars", text.chars().count());
    assert!(!text.contains("eyJ"), "a JWT-shaped word in {text:?}");
}

fn decode<T: serde::de::DeserializeOwned + Debug>(endpoint: &str, data: &[u8]) {
    check(client::decode_answer::<T>(endpoint, data));
}

fuzz_target!(|data: &[u8]| {
    decode::<Incident>("incidents/details", data);
    decode::<Incident>("incidents/create", data);
    decode::<Vec<Incident>>("incidents/list", data);
    decode::<Comment>("comments/create", data);
    decode::<Vec<Comment>>("comments/list", data);
    decode::<Vec<MdrResponse>>("responses/list", data);
    decode::<Vec<Asset>>("assets/list", data);
    decode::<Vec<Attachment>>("attachments/list", data);
    // `incidents/close` and `response/update` accept any JSON; the closed incident when it is one.
    if let Ok(answer) = client::decode_answer::<Value>("incidents/close", data) {
        drop(format!("{:?}", serde_json::from_value::<Incident>(answer).ok()));
    }
    match client::decode_session(data) {
        Ok(pair) => {
            let _ = (jwt_expiry(pair.access.expose()), jwt_expiry(pair.refresh.expose()));
            // What a log line shows of the pair cannot depend on the tokens.
            let blank = TokenPair { access: Secret::new(""), refresh: Secret::new("") };
            assert_eq!(format!("{pair:?}"), format!("{blank:?}"));
        }
        Err(error) => check_message(&error.to_string()),
    }
    if let Ok(text) = std::str::from_utf8(data) {
        check_message(&client::error_message(text));
        let _ = jwt_expiry(text);
    }
});
