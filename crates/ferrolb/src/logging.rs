//! Logs: JSON lines (MetalLB's default, for log pipelines) or text (for people), on stderr.

use std::io::IsTerminal;

use tracing_subscriber::filter::LevelFilter;

use crate::cli::{LogFormat, LogLevel};

pub fn init(format: LogFormat, level: LogLevel) {
    let filter = match level {
        LogLevel::All => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::None => LevelFilter::OFF,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if let Err(e) = result {
        eprintln!("warning: logging already initialised: {e}");
    }
}
