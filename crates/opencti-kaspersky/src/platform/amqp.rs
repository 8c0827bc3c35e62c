//! RabbitMQ, the default transport: consume the listen queue the registration names and push
//! results to the push exchange, one object per message with the work's expectations, as pycti.
//!
//! Acknowledgement as pycti: a message is acknowledged when it is taken, before processing (a
//! message that crashes the connector is not redelivered forever). It is taken only when a
//! worker is free, so at most `CONNECTOR_CONCURRENCY` taken messages are in progress; the others
//! stay unacknowledged with the broker and come back after a reconnect. Results of a taken
//! message are published with confirms and retried until the broker takes them (a restart in the
//! middle loses nothing).

use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::FieldTable;
use lapin::uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::api::Registration;
use super::graphql::OpenCti;
use super::log;
use super::message::{SendError, Sink};
use crate::config::MqOverrides;

/// pycti's heartbeat.
const HEARTBEAT_SECS: u16 = 10;
/// Pause before reconnecting after the broker went away.
const RECONNECT_PAUSE: Duration = Duration::from_secs(2);
/// How long a publish is retried before the message is reported as failed.
const PUBLISH_PATIENCE: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    #[error("cannot start the AMQP runtime: {0}")]
    Runtime(String),
    #[error("cannot read {0} (MQ_USE_SSL_CA)")]
    Ca(String),
}

/// Where the broker is: the registration's answer with the `MQ_*` overrides applied.
#[derive(Clone)]
pub struct Target {
    uri: AMQPUri,
    tls: OwnedTLSConfig,
    pub description: String,
}

impl Target {
    pub fn new(registration: &Registration, mq: &MqOverrides) -> Result<Target, AmqpError> {
        let b = &registration.broker;
        let use_ssl = mq.use_ssl.unwrap_or(b.use_ssl);
        let host = mq.host.clone().unwrap_or_else(|| b.host.clone());
        let port = mq.port.unwrap_or(b.port);
        let vhost = mq.vhost.clone().unwrap_or_else(|| b.vhost.clone());
        let user = mq.user.clone().unwrap_or_else(|| b.user.clone());
        let pass = mq.pass.clone().unwrap_or_else(|| b.pass.clone());
        let uri = AMQPUri {
            scheme: if use_ssl { AMQPScheme::AMQPS } else { AMQPScheme::AMQP },
            authority: AMQPAuthority {
                userinfo: AMQPUserInfo { username: user.clone(), password: pass.expose().to_owned() },
                host: host.clone(),
                port,
            },
            vhost: vhost.clone(),
            query: AMQPQueryString {
                heartbeat: Some(HEARTBEAT_SECS),
                connection_timeout: Some(10_000),
                ..Default::default()
            },
        };
        let cert_chain = match &mq.ssl_ca {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|_| AmqpError::Ca(path.display().to_string()))?),
            None => None,
        };
        let description =
            format!("{}://{host}:{port} vhost {vhost:?} as {user:?}", if use_ssl { "amqps" } else { "amqp" });
        Ok(Target { uri, tls: OwnedTLSConfig { identity: None, cert_chain }, description })
    }

    async fn connect(&self) -> lapin::Result<Connection> {
        let runtime = lapin::runtime::default_runtime()?;
        let properties = ConnectionProperties::default().with_connection_name("opencti-kaspersky-enrichment".into());
        Connection::connect_uri_with_config(self.uri.clone(), properties, self.tls.clone(), runtime).await
    }
}

/// The tokio runtime the AMQP client runs on (the rest of the connector is blocking).
pub fn runtime() -> Result<tokio::runtime::Runtime, AmqpError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| AmqpError::Runtime(e.to_string()))
}

/// One taken message and the worker slot it holds.
pub type Job = (Vec<u8>, OwnedSemaphorePermit);

/// Consumes `queue` until `stop` is set, handing each message to `jobs` once a slot is free.
pub async fn listen(
    target: Target,
    queue: String,
    prefetch: u16,
    slots: Arc<Semaphore>,
    jobs: SyncSender<Job>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering;
    while !stop.load(Ordering::Relaxed) {
        match consume(&target, &queue, prefetch, &slots, &jobs, &stop).await {
            Ok(()) => break,
            Err(e) => {
                log::error(&format!("RabbitMQ listen connection lost ({e}); reconnecting"));
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
        }
    }
}

async fn consume(
    target: &Target,
    queue: &str,
    prefetch: u16,
    slots: &Arc<Semaphore>,
    jobs: &SyncSender<Job>,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<(), String> {
    use std::sync::atomic::Ordering;
    let text = |e: lapin::Error| e.to_string();
    let connection = target.connect().await.map_err(text)?;
    let channel = connection.create_channel().await.map_err(text)?;
    channel.basic_qos(prefetch, BasicQosOptions::default()).await.map_err(text)?;
    let mut consumer = channel
        .basic_consume(queue.into(), "".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .map_err(text)?;
    log::info(&format!("listening on queue {queue} at {}", target.description));
    while !stop.load(Ordering::Relaxed) {
        let next = tokio::time::timeout(Duration::from_millis(500), consumer.next()).await;
        let delivery = match next {
            Err(_) => continue,
            Ok(None) => return Err("the consumer ended".into()),
            Ok(Some(delivery)) => delivery.map_err(|e| e.to_string())?,
        };
        // Wait for a free worker before taking (acknowledging) the message.
        let Ok(permit) = Arc::clone(slots).acquire_owned().await else { return Ok(()) };
        // The connection may have gone while waiting: the broker has then requeued the message
        // and an ack would go nowhere, so processing it here would do it twice.
        if !connection.status().connected() || !channel.status().connected() {
            return Err("the connection closed while the message waited for a worker".into());
        }
        delivery.ack(BasicAckOptions::default()).await.map_err(text)?;
        if jobs.send((delivery.data, permit)).is_err() {
            return Ok(());
        }
    }
    let _ = connection.close(200, "bye".into()).await;
    Ok(())
}

/// Worker loop: takes jobs and processes them with `handle` until the channel closes.
pub fn work(jobs: Arc<Mutex<Receiver<Job>>>, handle: impl Fn(&[u8])) {
    loop {
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok((body, permit)) = job else { return };
        handle(&body);
        drop(permit);
    }
}

/// Pushes results to the broker (`CONNECTOR_QUEUE_PROTOCOL=amqp`).
pub struct AmqpSink {
    runtime: tokio::runtime::Handle,
    target: Target,
    exchange: String,
    routing: String,
    applicant_id: Option<String>,
    channel: tokio::sync::Mutex<Option<(Connection, Channel)>>,
}

impl AmqpSink {
    pub fn new(runtime: tokio::runtime::Handle, target: Target, registration: &Registration) -> AmqpSink {
        AmqpSink {
            runtime,
            target,
            exchange: registration.push_exchange.clone(),
            routing: registration.push_routing.clone(),
            applicant_id: registration.connector_user_id.clone(),
            channel: tokio::sync::Mutex::new(None),
        }
    }

    async fn publish(&self, body: &[u8]) -> Result<(), String> {
        let mut guard = self.channel.lock().await;
        if guard.as_ref().is_none_or(|(c, ch)| !c.status().connected() || !ch.status().connected()) {
            let connection = self.target.connect().await.map_err(|e| e.to_string())?;
            let channel = connection.create_channel().await.map_err(|e| e.to_string())?;
            channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| e.to_string())?;
            *guard = Some((connection, channel));
        }
        let Some((_, channel)) = guard.as_ref() else { return Err("no channel".into()) };
        let properties = BasicProperties::default().with_delivery_mode(2).with_content_encoding("utf-8".into());
        let confirm = channel
            .basic_publish(
                self.exchange.as_str().into(),
                self.routing.as_str().into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await;
        let result = match confirm {
            Ok(confirm) => match confirm.await {
                Ok(c) if c.is_ack() => Ok(()),
                Ok(_) => Err("the broker refused the message (nack)".to_owned()),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.to_string()),
        };
        if result.is_err() {
            *guard = None;
        }
        result
    }

    fn publish_until_taken(&self, body: &[u8]) -> Result<(), SendError> {
        let started = Instant::now();
        loop {
            match self.runtime.block_on(self.publish(body)) {
                Ok(()) => return Ok(()),
                Err(e) if started.elapsed() < PUBLISH_PATIENCE => {
                    log::warn(&format!("cannot publish to RabbitMQ ({e}); retrying"));
                    std::thread::sleep(RECONNECT_PAUSE);
                }
                Err(e) => return Err(SendError::Broker(e)),
            }
        }
    }
}

impl Sink for AmqpSink {
    fn send(&self, api: &OpenCti, bundle: &Value, work_id: Option<&str>) -> Result<(), SendError> {
        use base64::Engine;
        let parts = super::bundle::split(bundle);
        if let Some(work_id) = work_id {
            api.add_expectations(work_id, parts.len())?;
        }
        for (sequence, part) in parts.iter().enumerate() {
            let content = base64::engine::general_purpose::STANDARD.encode(part.to_string());
            let message = json!({
                "bundle_type": "QUEUE_BUNDLE",
                "applicant_id": self.applicant_id,
                "action_sequence": sequence,
                "entities_types": [],
                "content": content,
                "update": false,
                "draft_id": null,
                "no_split": false,
                "work_id": work_id,
            });
            self.publish_until_taken(message.to_string().as_bytes())?;
        }
        Ok(())
    }
}
