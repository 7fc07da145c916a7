//! The server's settings: the address, the static site, the log format, and
//! what slow, idle and numerous clients may hold open.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::settings::Settings;
use super::validate::Validator;
use crate::descriptors::DescriptorBudget;
use crate::server::ServerLimits;
use crate::telemetry::LogFormat;

pub(super) fn bind_addr(s: &Settings, v: &mut Validator) -> Option<SocketAddr> {
    v.parse(&s.bind_addr, |raw| {
        raw.trim().parse().map_err(|_| format!("`{raw}` is not an IP:PORT address such as 127.0.0.1:3000"))
    })
}

/// Off unless set (an empty value, as container environments often pass,
/// counts as unset): a production deployment serves no demo page by accident.
/// `Some(None)` is "no directory"; `None` a bad one.
pub(super) fn public_dir(s: &Settings, v: &mut Validator) -> Option<Option<PathBuf>> {
    match v.value(&s.public_dir).filter(|raw| !raw.trim().is_empty()) {
        Some(raw) => {
            let path = PathBuf::from(&raw);
            let checked = if path.is_dir() { Ok(path) } else { Err(format!("`{raw}` is not a directory")) };
            v.check_setting(&s.public_dir, checked).map(Some)
        }
        None => Some(None),
    }
}

pub(super) fn log_format(s: &Settings, v: &mut Validator) -> Option<LogFormat> {
    v.parse(&s.log_format, |raw| match raw.trim() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("`{other}` is not one of: text, json")),
    })
}

/// What slow, idle and numerous clients may hold open (the connection cap from
/// the descriptor budget), and how long shutdown waits.
pub(super) fn limits(s: &Settings, descriptors: &DescriptorBudget, v: &mut Validator) -> Option<ServerLimits> {
    let header_read_timeout = v.seconds(&s.header_read_timeout_secs);
    let idle_timeout = v.seconds(&s.idle_timeout_secs);
    let shutdown_timeout = v.seconds(&s.shutdown_timeout_secs);
    Some(ServerLimits {
        header_read_timeout: header_read_timeout?,
        idle_timeout: idle_timeout?,
        max_connections: descriptors.connections,
        shutdown_timeout: shutdown_timeout?,
    })
}
