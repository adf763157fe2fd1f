//! Graceful shutdown: the signals that ask for it (Ctrl-C, SIGTERM) and the count of work still
//! in flight (connections, guests) that the server waits for before it exits.

use anyhow::{Context, Result};
use std::time::Duration;
use tokio::sync::mpsc;

/// Ctrl-C and, on Unix, SIGTERM. Installed before the server says it listens, so that a signal
/// sent as soon as the address is printed is handled, not the default (killing the process).
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> Result<Self> {
        Ok(Signals {
            #[cfg(unix)]
            interrupt: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .context("cannot handle Ctrl-C")?,
            #[cfg(unix)]
            terminate: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("cannot handle SIGTERM")?,
        })
    }

    /// Waits for the next Ctrl-C or SIGTERM; returns its name.
    #[cfg(unix)]
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "interrupt",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }

    /// Waits for the next Ctrl-C; returns its name.
    #[cfg(not(unix))]
    pub async fn next(&mut self) -> &'static str {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "interrupt",
            // No handler for Ctrl-C: there is nothing to wait for.
            Err(_) => std::future::pending().await,
        }
    }
}

/// Counts work in flight: each piece holds a [`Guard`]; [`InFlight::wait`] returns when every
/// guard is dropped. (A channel whose senders are the guards: it closes with the last one.)
pub struct InFlight {
    guards: mpsc::Sender<()>,
    closed: mpsc::Receiver<()>,
}

/// Held by a connection or a guest task while it runs.
#[derive(Clone)]
pub struct Guard {
    _sender: mpsc::Sender<()>,
}

impl InFlight {
    pub fn new() -> Self {
        let (guards, closed) = mpsc::channel(1);
        InFlight { guards, closed }
    }

    pub fn guard(&self) -> Guard {
        Guard {
            _sender: self.guards.clone(),
        }
    }

    /// Waits until everything in flight is done, or `grace` has passed, or `signals` deliver
    /// another signal (the user insists); returns whether everything finished.
    pub async fn wait(self, grace: Duration, signals: &mut Signals) -> bool {
        let InFlight { guards, mut closed } = self;
        drop(guards);
        tokio::select! {
            _ = closed.recv() => true,
            _ = tokio::time::sleep(grace) => false,
            _ = signals.next() => false,
        }
    }
}
