//! Shared helpers for the sandbox's HTTP tests.
#![allow(dead_code, clippy::unwrap_used)]

use reqwest::blocking::{Client, Response};
use serde_json::Value;
use test_support::{Sandbox, SandboxOptions, Seed};

pub(crate) const INCIDENT: &str = "-NzExampleIncident01";
pub(crate) const INCIDENT2: &str = "-NzExampleIncident02";
pub(crate) const CLOSED: &str = "-NzClosedIncident03";
pub(crate) const PENDING_RESPONSE: &str = "MDR_00000000-1111-2222-3333-444444444444";
pub(crate) const CONFIRMED_RESPONSE: &str = "MDR_55555555-6666-7777-8888-999999999999";
pub(crate) const HOST1_ID: &str = "0xA1B2C3D4E5F60718293A4B5C6D7E8F90";

/// A plain-HTTP sandbox on the demo seed.
pub(crate) fn start() -> Sandbox {
    Sandbox::start(SandboxOptions::new(Seed::default_demo())).unwrap()
}

/// A sandbox plus an authenticated caller.
pub(crate) struct Api {
    pub(crate) sandbox: Sandbox,
    pub(crate) client: Client,
    pub(crate) token: String,
}

impl Api {
    pub(crate) fn new() -> Self {
        let sandbox = start();
        let token = sandbox.issue_tokens(3600).access_token;
        Self { sandbox, client: Client::new(), token }
    }

    pub(crate) fn url(&self, endpoint: &str) -> String {
        format!("{}/{}/{endpoint}", self.sandbox.api_url(), self.sandbox.client_id())
    }

    /// POST a JSON body with the bearer; returns (status, parsed body or Null).
    pub(crate) fn post(&self, endpoint: &str, body: Value) -> (u16, Value) {
        let resp = self.client.post(self.url(endpoint)).bearer_auth(&self.token).json(&body).send().unwrap();
        split(resp)
    }
}

pub(crate) fn split(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
