//! The RabbitMQ transport end to end against a real broker: a private RabbitMQ node (Debian's
//! `rabbitmq-server`, own ports and node name, data in a tempdir) that the OpenCTI stand-in's
//! registration points the connector at. Messages are published to the listen queue as the
//! platform does; what the connector pushes is read back from the push queue. A missing broker
//! is a failure, never a skip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::Value;
use test_support::opencti::{BrokerInfo, OpenCtiSandbox};

use crate::tip_standin::StandIn;
use crate::transport_common::*;

const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const BROKER_USER: &str = "opencti";
const BROKER_PASS: &str = "broker-pass-SENTINEL-77c1";
/// The platform's exchanges (OpenCTI's rabbitmq setup).
const LISTEN_EXCHANGE: &str = "amqp.connector.exchange";
const PUSH_EXCHANGE: &str = "amqp.worker.exchange";

/// A private RabbitMQ node; stopped (its whole process group) and its data removed when dropped.
struct Broker {
    dir: tempfile::TempDir,
    port: u16,
    dist_port: u16,
    node: String,
    child: Option<Child>,
}

fn server_path() -> PathBuf {
    let path = PathBuf::from(SERVER);
    if !path.is_file() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        panic!(
            "RabbitMQ is not installed ({SERVER} is missing){}: install Debian's rabbitmq-server \
             (`apt-get install rabbitmq-server`; .ci/run does it as root). These tests never skip.",
            if ci { " and CI=true requires the RabbitMQ transport tests" } else { "" }
        );
    }
    path
}

impl Broker {
    fn start() -> Broker {
        let server = server_path();
        let dir = tempfile::tempdir().expect("tempdir");
        let (port, dist_port) = (free_port(), free_port());
        let node = format!("opencti-test-{}-{port}@localhost", std::process::id());
        let config = dir.path().join("rabbitmq.conf");
        std::fs::write(
            &config,
            format!(
                "listeners.tcp.1 = 127.0.0.1:{port}\ndefault_user = {BROKER_USER}\ndefault_pass = {BROKER_PASS}\n\
                 loopback_users = none\ndisk_free_limit.absolute = 1MB\n"
            ),
        )
        .expect("rabbitmq.conf");
        std::fs::write(dir.path().join("enabled_plugins"), "[].\n").expect("enabled_plugins");
        for sub in ["home", "mnesia", "log"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("broker dirs");
        }
        let mut broker = Broker { dir, port, dist_port, node, child: None };
        broker.spawn(&server);
        broker.wait_ready();
        broker
    }

    fn spawn(&mut self, server: &Path) {
        use std::os::unix::process::CommandExt;
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(d.join("server.out")).expect("server log");
        let child = Command::new(server)
            .env("HOME", d.join("home"))
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_CONF_ENV_FILE", d.join("no-rabbitmq-env.conf"))
            // Erlang distribution on loopback only.
            .env("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("rabbitmq-server");
        self.child = Some(child);
    }

    fn uri(&self) -> String {
        format!("amqp://{BROKER_USER}:{BROKER_PASS}@127.0.0.1:{}/%2f", self.port)
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.out")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let runtime = runtime();
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("rabbitmq-server exited {status}:\n{}", self.server_log());
            }
            if runtime.block_on(connect(&self.uri())).is_ok() {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "RabbitMQ did not come up:\n{}", self.server_log());
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Stops the node (SIGTERM to its process group, SIGKILL after 30 s) and waits for it.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let group = format!("-{}", child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).stderr(Stdio::null()).status();
        let start = Instant::now();
        while matches!(child.try_wait(), Ok(None)) && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = child.wait();
        // The AMQP port is free again once the node is gone.
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && start.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn restart(&mut self) {
        self.stop();
        self.spawn(&server_path());
        self.wait_ready();
    }

    /// What the registration hands the connector, as the platform does.
    fn info(&self) -> BrokerInfo {
        BrokerInfo {
            host: "127.0.0.1".into(),
            port: self.port,
            user: BROKER_USER.into(),
            pass: BROKER_PASS.into(),
            vhost: "/".into(),
            listen: format!("listen_{CONNECTOR_ID}"),
            push_exchange: PUSH_EXCHANGE.into(),
            push_routing: format!("push_routing_{CONNECTOR_ID}"),
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime")
}

async fn connect(uri: &str) -> lapin::Result<Connection> {
    Connection::connect_with_runtime(uri, ConnectionProperties::default(), lapin::runtime::default_runtime()?).await
}

/// The platform's side of the broker: its exchanges and the connector's queues (the platform
/// declares them when the connector registers; the stand-in has no AMQP client, so the test does).
struct Platform {
    runtime: tokio::runtime::Runtime,
    uri: String,
    connection: Option<(Connection, Channel)>,
    /// Push messages taken but not yet claimed by a check.
    taken: Vec<Value>,
}

const PUSH_QUEUE: &str = "push_kaspersky--8825ba29-8475-4e6a-95b7-9206052c0934";

impl Platform {
    fn new(broker: &Broker) -> Platform {
        let mut platform = Platform { runtime: runtime(), uri: broker.uri(), connection: None, taken: Vec::new() };
        let channel = platform.channel();
        let listen = format!("listen_{CONNECTOR_ID}");
        platform.runtime.block_on(async {
            for exchange in [LISTEN_EXCHANGE, PUSH_EXCHANGE] {
                let options = ExchangeDeclareOptions { durable: true, ..Default::default() };
                channel
                    .exchange_declare(exchange.into(), ExchangeKind::Direct, options, FieldTable::default())
                    .await
                    .expect("exchange");
            }
            for (queue, exchange, routing) in [
                (listen.as_str(), LISTEN_EXCHANGE, format!("listen_routing_{CONNECTOR_ID}")),
                (PUSH_QUEUE, PUSH_EXCHANGE, format!("push_routing_{CONNECTOR_ID}")),
            ] {
                let options = QueueDeclareOptions { durable: true, ..Default::default() };
                channel.queue_declare(queue.into(), options, FieldTable::default()).await.expect("queue");
                channel
                    .queue_bind(
                        queue.into(),
                        exchange.into(),
                        routing.as_str().into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .expect("bind");
            }
        });
        platform
    }

    /// A channel, reconnecting after a broker restart.
    fn channel(&mut self) -> Channel {
        if let Some((c, ch)) = &self.connection
            && c.status().connected()
            && ch.status().connected()
        {
            return ch.clone();
        }
        let uri = self.uri.clone();
        let (connection, channel) = self.runtime.block_on(async move {
            let connection = connect(&uri).await.expect("platform connection");
            let channel = connection.create_channel().await.expect("channel");
            (connection, channel)
        });
        self.connection = Some((connection, channel.clone()));
        channel
    }

    /// Publishes a listen message as the platform does (persistent, to the connector exchange).
    fn publish(&mut self, message: &Value) {
        let channel = self.channel();
        let routing = format!("listen_routing_{CONNECTOR_ID}");
        self.runtime.block_on(async {
            let properties = BasicProperties::default().with_delivery_mode(2);
            channel
                .basic_publish(
                    LISTEN_EXCHANGE.into(),
                    routing.as_str().into(),
                    BasicPublishOptions::default(),
                    message.to_string().as_bytes(),
                    properties,
                )
                .await
                .expect("publish")
                .await
                .expect("publish confirm");
        });
    }

    /// The push messages of `work_id` taken so far from the push queue.
    fn pushed_for(&mut self, work_id: &str) -> Vec<Value> {
        let fresh = self.take_pushed();
        self.taken.extend(fresh);
        let (mine, others) = std::mem::take(&mut self.taken).into_iter().partition(|m| m["work_id"] == work_id);
        self.taken = others;
        mine
    }

    /// Takes everything in the push queue (as the platform's workers do).
    fn take_pushed(&mut self) -> Vec<Value> {
        let channel = self.channel();
        self.runtime.block_on(async {
            let mut taken = Vec::new();
            while let Some(message) =
                channel.basic_get(PUSH_QUEUE.into(), BasicGetOptions { no_ack: true }).await.expect("basic_get")
            {
                taken.push(serde_json::from_slice(&message.delivery.data).expect("push message is JSON"));
            }
            taken
        })
    }

    fn waiting(&mut self, queue: &str) -> u32 {
        let channel = self.channel();
        self.runtime.block_on(async {
            let options = QueueDeclareOptions { passive: true, ..Default::default() };
            channel.queue_declare(queue.into(), options, FieldTable::default()).await.expect("queue").message_count()
        })
    }
}

/// Waits for the work to complete, then checks the push messages of that work: one per object,
/// as many as the work's expectations, together the golden bundle's objects.
fn check_enriched(
    opencti: &OpenCtiSandbox,
    platform: &mut Platform,
    connector: &Connector,
    case: &(String, Value, String, Value, Value),
    work_id: &str,
) {
    let (name, _, _, _, expected) = case;
    wait_for(&format!("{name}: the work to complete"), Duration::from_secs(60), || {
        opencti.work(work_id).is_some_and(|w| w.status == "complete")
    });
    let work = opencti.work(work_id).expect("work");
    assert_eq!(work.calls, ["toReceived", "addExpectations", "toProcessed"], "{name}: {}", connector.log_text());
    assert_eq!(work.in_error, Some(false), "{name}: {:?}", work.processed_message);
    let mut messages = Vec::new();
    wait_for(&format!("{name}: the pushed objects"), Duration::from_secs(10), || {
        messages.extend(platform.pushed_for(work_id));
        i64::try_from(messages.len()).is_ok_and(|n| n >= work.expectations)
    });
    assert_eq!(i64::try_from(messages.len()).ok(), Some(work.expectations), "{name}: one push message per expectation");
    let mut objects = Vec::new();
    for message in &messages {
        assert_eq!(message["work_id"], work_id, "{name}");
        assert_eq!(message["bundle_type"], "QUEUE_BUNDLE");
        assert_eq!(message["applicant_id"], "user--sandbox-connector");
        let content = base64::engine::general_purpose::STANDARD
            .decode(message["content"].as_str().expect("content"))
            .expect("content is base64");
        let bundle: Value = serde_json::from_slice(&content).expect("content is a bundle");
        assert_eq!(bundle["type"], "bundle");
        objects.extend(bundle["objects"].as_array().expect("objects").iter().cloned());
    }
    // Split messages go in dependency order; compare in the golden order.
    let rank = |o: &Value| {
        expected["objects"].as_array().and_then(|e| e.iter().position(|x| x["id"] == o["id"])).unwrap_or(usize::MAX)
    };
    objects.sort_by_key(rank);
    objects.dedup_by(|a, b| a["id"] == b["id"]);
    check_structure(name, &objects, expected);
}

#[test]
#[allow(clippy::unwrap_used)]
fn rabbitmq_listen_and_push_enrich_and_survive_a_broker_restart() {
    let mut broker = Broker::start();
    let opencti = opencti(true, broker.info());
    let tip = StandIn::start();
    let mut platform = Platform::new(&broker);
    // Default transports: RabbitMQ to listen and to push.
    let mut connector = spawn(&base_env(&opencti, &tip));
    wait_for("the registration", Duration::from_secs(30), || {
        if let Ok(Some(status)) = connector.child.try_wait() {
            panic!("connector exited {status}: {}", connector.log_text());
        }
        !opencti.registrations().is_empty()
    });
    assert!(opencti.registrations()[0].get("listen_callback_uri").is_none_or(Value::is_null));

    let cases: BTreeMap<String, _> = golden().into_iter().map(|c| (c.0.clone(), c)).collect();
    let first = &cases["ipv4"];
    seed(&opencti, &tip, &first.1, &first.2, &first.3, "work-amqp-1");
    platform.publish(&message(&first.1, "work-amqp-1"));
    check_enriched(&opencti, &mut platform, &connector, first, "work-amqp-1");

    // OpenCTI is down while two messages come: the first is taken (acknowledged) and its
    // processing waits for OpenCTI; the second waits unacknowledged. The broker then restarts in
    // the middle: the taken one is still done (its results published to the new broker), the
    // untaken one comes back to the queue and is done after the reconnect.
    opencti.set_outage(true);
    let (second, third) = (&cases["domain"], &cases["url"]);
    seed(&opencti, &tip, &second.1, &second.2, &second.3, "work-amqp-2");
    seed(&opencti, &tip, &third.1, &third.2, &third.3, "work-amqp-3");
    platform.publish(&message(&second.1, "work-amqp-2"));
    platform.publish(&message(&third.1, "work-amqp-3"));
    wait_for("the connector to try OpenCTI", Duration::from_secs(10), || connector.log_text().contains("attempt 1"));
    broker.restart();
    opencti.set_outage(false);
    check_enriched(&opencti, &mut platform, &connector, second, "work-amqp-2");
    check_enriched(&opencti, &mut platform, &connector, third, "work-amqp-3");

    // Nothing left behind, nothing done twice (a requeued copy would come within the reconnect pause).
    std::thread::sleep(Duration::from_secs(6));
    let listen = format!("listen_{CONNECTOR_ID}");
    assert_eq!(platform.waiting(&listen), 0, "left in the listen queue; connector log:\n{}", connector.log_text());
    assert_eq!(platform.waiting(PUSH_QUEUE), 0);
    assert!(
        platform.pushed_for("work-amqp-3").is_empty() && platform.taken.is_empty(),
        "push messages after the checks"
    );
    for work in ["work-amqp-1", "work-amqp-2", "work-amqp-3"] {
        assert_eq!(opencti.work(work).unwrap().calls.len(), 3, "{work}");
    }
    let log = connector.log_text();
    assert!(log.contains("reconnecting"), "{log}");
    for secret in [TOKEN, crate::tip_standin::TIP_TOKEN, BROKER_PASS] {
        assert!(!log.contains(secret), "a secret in the log");
    }
    drop(connector);
}
