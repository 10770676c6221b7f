//! The application: every service wired to one store, plus the background workers.
//!
//! [`App::open`] is what `agentgate serve` calls before it starts listening,
//! [`App::begin_shutdown`] what it calls when a shutdown signal arrives (long-polls end,
//! so they do not hold the connection drain), and [`App::shutdown`] what it calls after
//! the listener has drained.
//!
//! ```text
//!   http (router, handlers)            edges: translate, no rules
//!     │
//!   directory · schemas · messaging    services: the rules
//!   inbox · push worker · status book
//!     │
//!   TimedStore ─► Arc<dyn Store>       the storage port (embedded now, NATS later)
//! ```

use std::sync::Arc;
use std::time::Duration;

use agentgate_codec::amtp::Limits;
use agentgate_core::Domain;
use agentgate_core::backoff::Backoff;
use agentgate_store::Store;
use agentgate_store_embedded::{EmbeddedOptions, EmbeddedStore};
use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin_keys::AdminKeys;
use crate::config::{Backend, Config};
use crate::delivery::{self, PushSettings, PushWorker};
use crate::directory::Directory;
use crate::directory::validate::PushTargetPolicy;
use crate::federation::Federation;
use crate::federation::outbox::{OutboxSettings, OutboxWorker};
use crate::inbox::{Inbox, InboxLimits};
use crate::messaging::{Messaging, Wakes};
use crate::metrics::Metrics;
use crate::schemas::Schemas;
use crate::status_book::StatusBook;
use crate::storage::{self, OUTBOX_QUEUE, PUSH_QUEUE, TimedStore};
use crate::workflows::Workflows;
use crate::ws::Sessions;

/// How often agents' `last_active` is written back to the store.
const ACTIVITY_FLUSH_EVERY: Duration = Duration::from_secs(60);

/// Settings the HTTP edge reads.
#[derive(Clone, Debug)]
pub(crate) struct EdgeSettings {
    /// The served domain.
    pub domain: Domain,
    /// Largest `POST /v1/messages` body.
    pub max_message_size: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Whether `/metrics` needs an admin key.
    pub metrics_require_auth: bool,
    /// An agent is active if seen within this window.
    pub active_window: Duration,
}

/// The running gateway core.
pub struct App {
    pub(crate) settings: EdgeSettings,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) admin_keys: AdminKeys,
    pub(crate) directory: Arc<Directory>,
    pub(crate) schemas: Arc<Schemas>,
    pub(crate) inbox: Arc<Inbox>,
    pub(crate) messaging: Arc<Messaging>,
    pub(crate) federation: Arc<Federation>,
    pub(crate) workflows: Arc<Workflows>,
    pub(crate) sessions: Arc<Sessions>,
    shutdown: CancellationToken,
    tasks: parking_lot::Mutex<Vec<JoinHandle<()>>>,
    stopped: tokio::sync::Mutex<bool>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("domain", &self.settings.domain)
            .finish_non_exhaustive()
    }
}

/// Checks the domain and loads the admin keys.
fn preflight(config: &Config) -> anyhow::Result<(Domain, AdminKeys)> {
    let domain = Domain::parse(&config.server.domain).with_context(|| {
        format!(
            "server.domain: {:?} is not a valid domain",
            config.server.domain
        )
    })?;
    let admin_keys = AdminKeys::open(
        config.auth.admin_key_file.as_deref(),
        &config.storage.data_dir,
    )?;
    Ok((domain, admin_keys))
}

/// Opens the configured storage backend.
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    match config.storage.backend {
        Backend::Embedded => {
            let dir = config.storage.data_dir.clone();
            let options = EmbeddedOptions {
                cache_mb: config.storage.embedded.cache_mb,
            };
            let store = tokio::task::spawn_blocking(move || EmbeddedStore::open(&dir, options))
                .await
                .context("opening the embedded store")?
                .with_context(|| {
                    format!(
                        "storage.data_dir: cannot open the embedded store in {}",
                        config.storage.data_dir.display()
                    )
                })?;
            Ok(Arc::new(store))
        }
        Backend::Nats => {
            anyhow::bail!("storage.backend: \"nats\" is not yet supported; use \"embedded\"")
        }
    }
}

impl App {
    /// Opens the store (`storage.backend`), loads or creates the admin keys
    /// (`auth.admin_key_file`, else `<data_dir>/admin.key`), loads the directory and
    /// starts the background workers (push delivery, activity flushing).
    pub async fn open(config: &Config) -> anyhow::Result<Arc<App>> {
        // What can be checked without the store is checked first.
        let (domain, admin_keys) = preflight(config)?;
        let store = open_store(config).await?;
        App::start(config, store, domain, admin_keys).await
    }

    /// Like [`App::open`], on a store the caller opened (tests, other backends).
    pub async fn open_with_store(
        config: &Config,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Arc<App>> {
        let (domain, admin_keys) = preflight(config)?;
        App::start(config, store, domain, admin_keys).await
    }

    /// Starts the services on an open store; closes the store if that fails.
    async fn start(
        config: &Config,
        store: Arc<dyn Store>,
        domain: Domain,
        admin_keys: AdminKeys,
    ) -> anyhow::Result<Arc<App>> {
        let started = App::start_services(config, store.clone(), domain, admin_keys).await;
        if started.is_err()
            && let Err(e) = store.close().await
        {
            tracing::warn!(error = %e, "closing the store after a failed start");
        }
        started
    }

    async fn start_services(
        config: &Config,
        store: Arc<dyn Store>,
        domain: Domain,
        admin_keys: AdminKeys,
    ) -> anyhow::Result<Arc<App>> {
        let federation =
            Arc::new(Federation::open(config, &domain).context("setting up federation")?);
        let metrics = Arc::new(Metrics::new());
        let store: Arc<dyn Store> = Arc::new(TimedStore::new(store, metrics.clone()));
        let retention_ms = config.message.dedup_window.as_millis() as u64;
        // A nonce must be remembered as long as its signature could be accepted: from
        // max_age in the past to max_age in the future.
        let nonce_ttl_ms = 2 * config.federation.signature_max_age.as_millis() as u64;
        for bucket in storage::buckets(retention_ms.max(1), nonce_ttl_ms.max(1)) {
            store
                .ensure_bucket(&bucket)
                .await
                .with_context(|| format!("creating the {} bucket", bucket.name))?;
        }

        let shutdown = CancellationToken::new();
        let statuses = Arc::new(StatusBook::new(store.clone()));
        // A long-poll must end before the request times out.
        let max_wait = config.inbox.max_wait.min(
            config
                .server
                .request_timeout
                .saturating_sub(Duration::from_secs(1)),
        );
        let inbox = Arc::new(Inbox::new(
            store.clone(),
            statuses.clone(),
            metrics.clone(),
            InboxLimits {
                default_limit: config
                    .inbox
                    .default_limit
                    .clamp(1, config.inbox.max_limit.max(1)),
                max_limit: config.inbox.max_limit.max(1),
                max_wait,
            },
            shutdown.clone(),
        ));
        let push = &config.delivery.push;
        let policy = PushTargetPolicy {
            allow_http: push.allow_http,
            allow_private: push.allow_private_targets,
        };
        let directory = Arc::new(
            Directory::open(store.clone(), domain.clone(), policy, inbox.clone())
                .await
                .context("loading the agent directory")?,
        );
        let schemas = Arc::new(
            Schemas::open(store.clone())
                .await
                .context("loading the schema registry")?,
        );
        let wakes = Wakes::default();
        let limits = Limits {
            max_bytes: config.message.max_size,
            ..Limits::default()
        };
        let messaging = Arc::new(Messaging::new(
            store.clone(),
            directory.clone(),
            schemas.clone(),
            inbox.clone(),
            statuses.clone(),
            metrics.clone(),
            wakes.clone(),
            limits,
        ));

        let mut depth = 0u64;
        for agent in directory.snapshot().agents() {
            depth += inbox
                .depth(&agent.agent.address)
                .await
                .context("counting inbox messages")?;
        }
        metrics.inbox_depth_set(depth as i64);
        let pending = delivery::pending_jobs(&*store, PUSH_QUEUE)
            .await
            .context("counting pushes")?
            + delivery::pending_jobs(&*store, OUTBOX_QUEUE)
                .await
                .context("counting outbound deliveries")?;
        metrics.in_flight_set(pending as i64);

        let worker = Arc::new(PushWorker::new(
            store.clone(),
            directory.clone(),
            statuses.clone(),
            metrics.clone(),
            PushSettings {
                backoff: backoff(push.initial_backoff, push.max_backoff, push.max_attempts),
                timeout: push.timeout,
                concurrency: push.concurrency.max(1),
                policy,
            },
            wakes.push.clone(),
            shutdown.clone(),
        )?);
        let out = &config.federation.outbound;
        let outbox = Arc::new(OutboxWorker {
            store: store.clone(),
            federation: federation.clone(),
            messaging: messaging.clone(),
            statuses,
            metrics: metrics.clone(),
            settings: OutboxSettings {
                backoff: backoff(out.initial_backoff, out.max_backoff, out.max_attempts),
                timeout: out.timeout,
                concurrency: out.concurrency.max(1),
            },
            down: Default::default(),
            no_batch: Default::default(),
            wake: wakes.outbox.clone(),
            shutdown: shutdown.clone(),
        });
        let workflows = Arc::new(Workflows::new(
            store.clone(),
            messaging.clone(),
            shutdown.clone(),
        ));
        let tasks = vec![
            worker.spawn(),
            outbox.spawn(),
            workflows
                .clone()
                .spawn(Arc::new(tokio::sync::Notify::new())),
            tokio::spawn(flush_activity(directory.clone(), shutdown.clone())),
        ];

        let settings = EdgeSettings {
            domain,
            max_message_size: config.message.max_size,
            request_timeout: config.server.request_timeout,
            metrics_require_auth: config.metrics.require_auth,
            active_window: config.discovery.active_window,
        };
        tracing::info!(domain = %settings.domain, agents = directory.snapshot().len(), schemas = schemas.snapshot().len(), "gateway core started");
        let app = Arc::new(App {
            settings,
            store,
            metrics,
            admin_keys,
            directory,
            schemas,
            inbox,
            messaging,
            federation,
            workflows,
            sessions: Arc::new(Sessions::new(config.websocket.clone(), shutdown.clone())),
            shutdown,
            tasks: parking_lot::Mutex::new(tasks),
            stopped: tokio::sync::Mutex::new(false),
        });
        if let Some(task) = app.sessions.spawn_expiry(Arc::downgrade(&app)) {
            app.tasks.lock().push(task);
        }
        Ok(app)
    }

    /// Begins shutting down without waiting: long-polls answer at once (with what the
    /// inbox holds), the push worker stops taking jobs, and `/ready` answers 503. Call
    /// it when a shutdown signal arrives, before draining connections, so that
    /// long-polls do not hold the drain; [`App::shutdown`] calls it too. Idempotent.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Stops the workers (in-flight pushes finish or are released for redelivery),
    /// ends long-polls, writes back agent activity, then closes the store. Idempotent.
    pub async fn shutdown(&self) {
        let mut stopped = self.stopped.lock().await;
        if *stopped {
            return;
        }
        self.begin_shutdown();
        // Sessions close (1001) before the services they use stop.
        self.sessions.close_all(crate::ws::CLOSE_WAIT).await;
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.tasks.lock());
        for t in tasks {
            if let Err(e) = t.await {
                tracing::error!(error = %e, "a background task failed");
            }
        }
        if let Err(e) = self.directory.flush_activity().await {
            tracing::warn!(error = %e, "could not write back agent activity");
        }
        if let Err(e) = self.store.close().await {
            tracing::error!(error = %e, "closing the store failed");
        }
        *stopped = true;
        tracing::info!("gateway core stopped");
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }
}

/// A retry schedule from configuration: doubling from `initial` to `max`, ±25 %
/// jitter, at most `attempts` attempts.
fn backoff(initial: Duration, max: Duration, attempts: u32) -> Backoff {
    Backoff {
        initial_ms: initial.as_millis() as u64,
        max_ms: max.as_millis() as u64,
        jitter_percent: 25,
        max_attempts: attempts.max(1),
    }
}

async fn flush_activity(directory: Arc<Directory>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(ACTIVITY_FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = directory.flush_activity().await {
                    tracing::warn!(error = %e, "could not write back agent activity");
                }
            }
            _ = shutdown.cancelled() => return,
        }
    }
}
