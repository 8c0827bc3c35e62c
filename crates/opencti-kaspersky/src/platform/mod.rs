//! The OpenCTI side of the connector: start-up (health check, registration), the ping thread,
//! the transports (RabbitMQ or the HTTP callback to listen; RabbitMQ or `stixBundlePush` to
//! send) and the worker threads that process several messages at once.

pub mod amqp;
pub mod api;
pub mod bundle;
pub mod callback;
pub mod graphql;
pub mod jwt;
pub mod log;
pub mod message;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::config::{Config, ConfigSource, ListenProtocol, QueueProtocol};
use graphql::OpenCti;
use message::{Context, Enrich, Handled, Message, SendError, Sink};

/// pycti pings every 40 seconds.
pub const PING_INTERVAL: Duration = Duration::from_secs(40);
/// How often a message whose processing could not reach the platform is tried again.
const HANDLE_ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Api(#[from] graphql::ApiError),
    #[error(transparent)]
    Amqp(#[from] amqp::AmqpError),
    #[error(transparent)]
    Bind(#[from] callback::BindError),
    #[error("{0}")]
    Enricher(String),
}

/// Sends results with `stixBundlePush` (`CONNECTOR_QUEUE_PROTOCOL=api`): the whole bundle at once.
pub struct ApiSink {
    pub connector_id: String,
}

impl Sink for ApiSink {
    fn send(&self, api: &OpenCti, bundle: &Value, work_id: Option<&str>) -> Result<(), SendError> {
        Ok(api.bundle_push(&self.connector_id, &bundle.to_string(), work_id)?)
    }
}

/// Runs the connector until `stop` is set. `make_enricher` is called once the configuration is read.
pub fn run(
    config: &Config,
    ca_bundle: Option<&std::path::Path>,
    enricher: Box<dyn Enrich>,
    stop: Arc<AtomicBool>,
) -> Result<(), StartError> {
    log::set_level(config.connector.log_level);
    if !config.opencti.ssl_verify {
        log::warn("OPENCTI_SSL_VERIFY is false: the OpenCTI server's certificate is NOT verified");
    }
    let api = OpenCti::new(&config.opencti, ca_bundle)?;
    let version = api.health()?;
    log::info(&format!("connected to OpenCTI {version}"));
    let callback_uri =
        (config.connector.listen_protocol == ListenProtocol::Api).then(|| config.connector.callback_uri());
    let registration = api.register(&config.connector, callback_uri.as_deref())?;
    log::info(&format!("registered as {} ({})", config.connector.id, config.connector.name));
    let pinger = start_pings(OpenCti::new(&config.opencti, ca_bundle)?, config.connector.id.clone(), Arc::clone(&stop));

    let runtime = amqp::runtime()?;
    let needs_broker = config.connector.listen_protocol == ListenProtocol::Amqp
        || config.connector.queue_protocol == QueueProtocol::Amqp;
    let target = if needs_broker { Some(amqp::Target::new(&registration, &config.mq)?) } else { None };
    let sink: Box<dyn Sink> = match (&target, config.connector.queue_protocol) {
        (Some(target), QueueProtocol::Amqp) => {
            Box::new(amqp::AmqpSink::new(runtime.handle().clone(), target.clone(), &registration))
        }
        _ => Box::new(ApiSink { connector_id: config.connector.id.clone() }),
    };
    let mut secrets = vec![config.opencti.token.clone(), registration.broker.pass.clone()];
    secrets.extend(config.mq.pass.clone());
    let context = Arc::new(Context { api, enricher, sink, connector_id: config.connector.id.clone(), secrets });
    let workers = config.connector.concurrency;

    match (config.connector.listen_protocol, target) {
        (ListenProtocol::Api, _) => {
            let verifier = jwt::Verifier::new(registration.jwks.as_ref(), &config.opencti.token);
            let address = format!("{}:{}", config.connector.listen_api_host, config.connector.listen_api_port);
            let server = callback::Callback::start(
                &address,
                config.connector.listen_api_path.clone(),
                verifier,
                Arc::clone(&context),
                workers,
                Arc::clone(&stop),
            )?;
            log::info(&format!("listening for callbacks on {address}{}", config.connector.listen_api_path));
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
            }
            server.join();
        }
        (ListenProtocol::Amqp, Some(target)) => {
            let slots = Arc::new(tokio::sync::Semaphore::new(workers));
            let (sender, receiver) = std::sync::mpsc::sync_channel::<amqp::Job>(workers);
            let receiver = Arc::new(Mutex::new(receiver));
            let threads: Vec<_> = (0..workers)
                .map(|_| {
                    let (receiver, context) = (Arc::clone(&receiver), Arc::clone(&context));
                    std::thread::spawn(move || amqp::work(receiver, |body| handle_taken(&context, body)))
                })
                .collect();
            runtime.block_on(amqp::listen(
                target,
                registration.listen_queue.clone(),
                config.connector.prefetch,
                slots,
                sender,
                Arc::clone(&stop),
            ));
            for thread in threads {
                let _ = thread.join();
            }
        }
        (ListenProtocol::Amqp, None) => unreachable_target(),
    }
    let _ = pinger.join();
    Ok(())
}

fn unreachable_target() {
    log::error("no broker target although the AMQP transport was chosen");
}

/// A taken (acknowledged) RabbitMQ message: tried again while the platform is unreachable, so a
/// short outage loses nothing.
fn handle_taken(context: &Context, body: &[u8]) {
    let message = match Message::parse(body) {
        Ok(message) => message,
        Err(e) => return log::error(&format!("listen message dropped: {e}")),
    };
    for attempt in 1..=HANDLE_ATTEMPTS {
        match context.handle(&message) {
            Handled::Processed => return log::info(&format!("enriched {}", message.entity_id)),
            Handled::InError(text) => return log::warn(&format!("{}: {text}", message.entity_id)),
            Handled::Failed(reason) => {
                log::error(&format!("{} (attempt {attempt} of {HANDLE_ATTEMPTS}): {reason}", message.entity_id));
                std::thread::sleep(Duration::from_secs(2u64.pow(attempt)));
            }
        }
    }
}

fn start_pings(api: OpenCti, id: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut waited = PING_INTERVAL;
        while !stop.load(Ordering::Relaxed) {
            if waited >= PING_INTERVAL {
                if let Err(e) = api.ping(&id) {
                    log::error(&format!("ping failed: {e}"));
                }
                waited = Duration::ZERO;
            }
            std::thread::sleep(Duration::from_millis(200));
            waited += Duration::from_millis(200);
        }
    })
}

/// The binary's entry point: reads the configuration, registers, then serves until SIGTERM/SIGINT.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config_file = match args.as_slice() {
        [] => None,
        [flag, path] if flag == "--config" => Some(std::path::PathBuf::from(path)),
        [flag] if flag == "--version" => {
            // On stdout, as clap answers `--version` for the workspace's other binaries.
            #[allow(clippy::print_stdout)]
            {
                println!("opencti-kaspersky-enrichment {}", env!("CARGO_PKG_VERSION"));
            }
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("usage: opencti-kaspersky-enrichment [--config FILE]");
            return ExitCode::from(2);
        }
    };
    let source = match &config_file {
        Some(path) => ConfigSource::load_with(Some(path)),
        None => ConfigSource::load(),
    };
    let result = source.map_err(StartError::from).and_then(|source| {
        let config = Config::from_source(&source)?;
        let ca_bundle = source.text("REQUESTS_CA_BUNDLE", &[]).map(|s| std::path::PathBuf::from(s.value));
        let enricher = make_enricher(&config)?;
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            let _ = signal_hook::flag::register(signal, Arc::clone(&stop));
        }
        run(&config, ca_bundle.as_deref(), enricher, stop)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error(&e.to_string());
            ExitCode::from(1)
        }
    }
}

/// The enrichment ([`crate::enrich::Enricher`]) with the connector's scope and TIP timeout.
fn make_enricher(config: &Config) -> Result<Box<dyn Enrich>, StartError> {
    let enricher = crate::enrich::Enricher::new(&config.kaspersky, config.connector.tip_timeout)
        .map_err(|e| StartError::Enricher(e.to_string()))?
        .with_scope(&config.connector.scope);
    Ok(Box::new(enricher))
}

impl Enrich for crate::enrich::Enricher {
    fn enrich(&self, entity: &Value, stix_entity: &Value, stix_objects: &[Value]) -> Result<message::Outcome, String> {
        let input = crate::enrich::EnrichmentInput {
            entity: entity.clone(),
            stix_entity: stix_entity.clone(),
            stix_objects: stix_objects.to_vec(),
        };
        match crate::enrich::Enricher::enrich(self, &input) {
            Ok(done) => {
                for warning in &done.warnings {
                    log::warn(warning);
                }
                Ok(message::Outcome { objects: done.objects, message: done.message })
            }
            Err(e) => Err(e.to_string()),
        }
    }
}
