//! The `kuryr` command: argv, logging, signals and exit codes. Everything else lives in
//! the library; this file only wires it.

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use kuryr::config::{self, BackendKind, Loaded, ProcessEnv};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "kuryr",
    version,
    propagate_version = true,
    about = "Docker network and IPAM plugin (kuryr-libnetwork successor)",
    long_about = "Docker network and IPAM plugin (kuryr-libnetwork successor): a libnetwork \
remote driver and IPAM driver in one, on /run/docker/plugins/kuryr.sock ([DEFAULT] kuryr_uri), \
where dockerd finds it. It reads kuryr.conf (--config-file, else ~/.kuryr/kuryr.conf, \
~/kuryr.conf, /etc/kuryr/kuryr.conf, /etc/kuryr.conf). The backend is embedded (a local IPAM \
in state_dir and a Linux bridge per network) unless [neutron] points at Neutron. GET /metrics \
(Prometheus text) and GET /healthz are served on the plugin's listener and, with \
[DEFAULT] metrics_listen = HOST:PORT, on a listener of their own."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the libnetwork plugin (NetworkDriver + IpamDriver) until SIGINT/SIGTERM.
    Serve {
        /// kuryr.conf to read; without it the oslo default locations are searched.
        #[arg(long = "config-file", value_name = "PATH")]
        config_file: Option<PathBuf>,
        /// Overrides the configured level (error, warn, info, debug, trace).
        #[arg(long, value_name = "LEVEL")]
        log_level: Option<String>,
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Print the embedded backend's persisted state as JSON (the plugin must be stopped).
    State {
        #[arg(long = "config-file", value_name = "PATH")]
        config_file: Option<PathBuf>,
    },
    /// What the plugin holds: networks, pools and their usage, endpoints, pending
    /// deletes. Asks the running plugin; when none answers, reads its state dir.
    Status {
        #[arg(long = "config-file", value_name = "PATH")]
        config_file: Option<PathBuf>,
        /// Print JSON (the `/Kuryr.Status` answer) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Why `docker network create -d kuryr` might fail here: config, Docker discovery,
    /// kernel features, Neutron and OVS, each ok, warn or fail with a fix. Exits 1 on
    /// any fail.
    Doctor {
        #[arg(long = "config-file", value_name = "PATH")]
        config_file: Option<PathBuf>,
        /// Print JSON (a list of {check, level, detail, fix}) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// What kuryr left in Neutron that nothing here owns any more (no Docker network or
    /// endpoint on this host's dockerd): a dry run, or deleted with --apply.
    Gc {
        #[arg(long = "config-file", value_name = "PATH")]
        config_file: Option<PathBuf>,
        /// Delete what is listed.
        #[arg(long)]
        apply: bool,
        /// Leave alone what Neutron made less than this many seconds ago.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        min_age: u64,
        #[arg(long)]
        json: bool,
    },
    /// Validate a configuration file and print its warnings.
    CheckConfig {
        #[arg(long = "config-file", value_name = "PATH")]
        config_file: Option<PathBuf>,
    },
    /// Print a shell completion script, e.g. to
    /// /usr/share/bash-completion/completions/kuryr.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the kuryr(1) man page (roff), or write it and one page per subcommand
    /// (kuryr-serve(1), ...) into a directory.
    Man {
        /// Write kuryr.1 and kuryr-<subcommand>.1 here instead of printing kuryr.1.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config_file,
            log_level,
            log_format,
        } => serve(config_file, log_level, log_format),
        Command::State { config_file } => state(config_file),
        Command::Status { config_file, json } => status(config_file, json),
        Command::Doctor { config_file, json } => doctor(config_file, json),
        Command::Gc {
            config_file,
            apply,
            min_age,
            json,
        } => gc(config_file, apply, min_age, json),
        Command::CheckConfig { config_file } => check_config(config_file),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "kuryr", &mut script);
            print_bytes(&script)
        }
        Command::Man { out_dir } => man(out_dir),
    }
}

/// The man pages, generated from the clap definitions above, so they cannot drift
/// from what `kuryr --help` says.
fn man(out_dir: Option<PathBuf>) -> ExitCode {
    let written = match &out_dir {
        Some(dir) => std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(Cli::command(), dir)),
        None => {
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => return print_bytes(&page),
                Err(error) => Err(error),
            }
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kuryr: cannot write the man pages: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Write generated text to stdout; a closed pipe is a failure, not a panic.
fn print_bytes(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn serve(config_file: Option<PathBuf>, log_level: Option<String>, format: LogFormat) -> ExitCode {
    let loaded = match load(config_file) {
        Some(loaded) => loaded,
        None => return ExitCode::from(2),
    };
    let level = log_level.unwrap_or_else(|| loaded.config.log_level.as_filter().to_owned());
    init_logging(&level, format);
    // Which backend, so an operator can tell that settings given only as the
    // environment (a managed plugin's `docker plugin set OS_*`) were taken.
    let backend = loaded.config.backend.kind().as_str();
    match &loaded.source {
        Some(path) => tracing::info!(
            config = %path.display(),
            backend,
            version = env!("CARGO_PKG_VERSION"),
            "starting"
        ),
        None => tracing::info!(
            backend,
            version = env!("CARGO_PKG_VERSION"),
            "starting without a kuryr.conf: built-in defaults and the environment"
        ),
    }
    for warning in &loaded.warnings {
        tracing::warn!("config: {warning}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = {
        let _context = runtime.enter();
        match shutdown_signal() {
            Ok(shutdown) => shutdown,
            Err(error) => {
                tracing::error!(%error, "cannot watch SIGTERM/SIGINT");
                return ExitCode::FAILURE;
            }
        }
    };
    match runtime.block_on(kuryr::daemon::run(loaded.config, shutdown)) {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "fatal");
            ExitCode::FAILURE
        }
    }
}

fn state(config_file: Option<PathBuf>) -> ExitCode {
    let Some(loaded) = load(config_file) else {
        return ExitCode::from(2);
    };
    let config = &loaded.config;
    let view = match config.backend.kind() {
        BackendKind::Embedded => {
            kuryr::store::read_snapshot(&config.state_dir).map(|s| kuryr::store::to_json(&s))
        }
        // Its state is Neutron's; what is local is the deletes still owed to it.
        BackendKind::Neutron => kuryr::neutron_driver::pending_deletes(&config.state_dir)
            .map(|jobs| serde_json::json!({ "pending_neutron_deletes": jobs })),
    };
    match view {
        Ok(view) => {
            let text = serde_json::to_string_pretty(&view)
                .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
            let mut stdout = std::io::stdout().lock();
            if writeln!(stdout, "{text}").is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("kuryr: {error}");
            ExitCode::FAILURE
        }
    }
}

fn status(config_file: Option<PathBuf>, json: bool) -> ExitCode {
    let Some(loaded) = load(config_file) else {
        return ExitCode::from(2);
    };
    let Some(runtime) = small_runtime() else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(kuryr::status::status(&loaded.config)) {
        Ok(answer) => {
            let text = if json {
                serde_json::to_string_pretty(&answer).unwrap_or_default()
            } else {
                kuryr::status::render(&answer)
            };
            if writeln!(std::io::stdout().lock(), "{}", text.trim_end()).is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("kuryr: {error}");
            ExitCode::FAILURE
        }
    }
}

fn doctor(config_file: Option<PathBuf>, json: bool) -> ExitCode {
    let loaded = config::load(config_file.as_deref(), &ProcessEnv).map_err(|e| e.to_string());
    let Some(runtime) = small_runtime() else {
        return ExitCode::FAILURE;
    };
    let discovery = kuryr::doctor::Discovery::default();
    let findings = runtime.block_on(kuryr::doctor::run(loaded, &discovery));
    let text = if json {
        serde_json::to_string_pretty(&findings).unwrap_or_default()
    } else {
        kuryr::doctor::render(&findings)
    };
    if writeln!(std::io::stdout().lock(), "{}", text.trim_end()).is_err() {
        return ExitCode::FAILURE;
    }
    if kuryr::doctor::failed(&findings) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn gc(config_file: Option<PathBuf>, apply: bool, min_age: u64, json: bool) -> ExitCode {
    let Some(loaded) = load(config_file) else {
        return ExitCode::from(2);
    };
    let Some(runtime) = small_runtime() else {
        return ExitCode::FAILURE;
    };
    let min_age = std::time::Duration::from_secs(min_age);
    match runtime.block_on(kuryr::gc::run(&loaded.config, &ProcessEnv, apply, min_age)) {
        Ok(report) => {
            let text = if json {
                serde_json::to_string_pretty(&report).unwrap_or_default()
            } else {
                kuryr::gc::render(&report)
            };
            if writeln!(std::io::stdout().lock(), "{}", text.trim_end()).is_err() {
                return ExitCode::FAILURE;
            }
            if report.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("kuryr: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A runtime for the commands that make a few requests and exit.
fn small_runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            eprintln!("kuryr: cannot start the async runtime: {error}");
            None
        }
    }
}

fn check_config(config_file: Option<PathBuf>) -> ExitCode {
    let Some(loaded) = load(config_file) else {
        return ExitCode::from(2);
    };
    // `load` is `serve`'s own path: the Neutron client's options (credentials,
    // clouds.yaml and OS_* included) are checked there, so a file that passes here is
    // not refused there.
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let config = &loaded.config;
    match config.backend.neutron_client() {
        None => eprintln!("kuryr: backend embedded"),
        Some(client) => eprintln!(
            "kuryr: backend neutron ({}; binding host {})",
            client.auth.summary(),
            config.neutron.binding_host
        ),
    }
    let source = loaded.source.map_or_else(
        || "built-in defaults".to_owned(),
        |p| p.display().to_string(),
    );
    eprintln!("kuryr: configuration OK ({source})");
    ExitCode::SUCCESS
}

/// Load the configuration, printing every error at once (logging is not set up yet).
fn load(config_file: Option<PathBuf>) -> Option<Loaded> {
    match config::load(config_file.as_deref(), &ProcessEnv) {
        Ok(loaded) => Some(loaded),
        Err(error) => {
            eprintln!("kuryr: {error}");
            None
        }
    }
}

/// `KURYR_LOG` (or `RUST_LOG`) wins over the configured level, for one-off debugging.
fn init_logging(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_env("KURYR_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Watch SIGTERM and SIGINT from now on. The handlers are installed before the
/// listener exists: a future that registers them on first poll leaves a window in
/// which a client already served can SIGTERM the plugin to death (default action),
/// skipping the spec-file removal and the settle.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        tracing::info!("shutting down");
    })
}
