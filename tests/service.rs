//! `sao run` under a service manager, as the pole's systemd unit starts it (`Type=notify`,
//! `WatchdogSec=`): the test plays systemd's part on a real notification socket and checks
//! that the pole says when it is ready, proves its main loop turns while it runs, and says
//! when it stops; and that it keeps quiet about a watchdog meant for another process.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::mqtt::{Mosquitto, Subscriber};
use common::{misbehave_files_as, pole_body, Bench, PoleProcess};

const LONG: Duration = Duration::from_secs(60);

/// The notification socket systemd would listen on, and what arrives on it.
struct NotifySocket {
    socket: UnixDatagram,
    path: String,
}

impl NotifySocket {
    fn bind(bench: &Bench) -> Self {
        let path = bench.path("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        Self {
            socket,
            path: path.to_string_lossy().into_owned(),
        }
    }

    /// Every datagram received within `window`, each as its `KEY=value` lines.
    fn receive_for(&self, window: Duration) -> Vec<Vec<String>> {
        let deadline = Instant::now() + window;
        let mut messages = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return messages;
            }
            self.socket.set_read_timeout(Some(left)).unwrap();
            match self.socket.recv(&mut buffer) {
                Ok(n) => messages.push(
                    String::from_utf8_lossy(&buffer[..n])
                        .lines()
                        .map(str::to_string)
                        .collect(),
                ),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return messages,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return messages,
                Err(e) => panic!("notification socket: {e}"),
            }
        }
    }

    /// Waits for a datagram holding `line`, and returns what arrived up to and with it.
    fn wait_for(&self, line: &str, pole: &PoleProcess) -> Vec<Vec<String>> {
        let deadline = Instant::now() + LONG;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            for message in self.receive_for(Duration::from_millis(200)) {
                let found = message.iter().any(|l| l == line);
                seen.push(message);
                if found {
                    return seen;
                }
            }
        }
        panic!("no {line} in {seen:?}: {}", pole.log())
    }
}

fn pole_config(broker: &Mosquitto) -> String {
    format!(
        "{}\n[timing]\npoll-interval-ms = 50\n\n[uplink]\nbroker = \"{}\"\n\n\
         [[plugins]]\npackage = \"misbehave.sao\"\ngrants = [\"log\", \"kv\", \"telemetry\", \"alarm\", \"lighting\"]\nconfig = {{ mode = \"ok\" }}\n",
        pole_body(),
        broker.url()
    )
}

fn count(messages: &[Vec<String>], line: &str) -> usize {
    messages
        .iter()
        .filter(|m| m.iter().any(|l| l == line))
        .count()
}

#[test]
fn the_pole_reports_ready_proves_its_loop_turns_and_reports_stopping() {
    let bench = Bench::new();
    bench.package("misbehave", misbehave_files_as("misbehave"));
    let broker = Mosquitto::start(&bench.path("broker"));
    let sub = Subscriber::connect(broker.port, "sao/#");
    let notify = NotifySocket::bind(&bench);
    // A 2 s watchdog: the pole must ping at least every second.
    let pole = PoleProcess::start_with_env(
        bench.dir.path(),
        &pole_config(&broker),
        &[
            ("NOTIFY_SOCKET", &notify.path),
            ("WATCHDOG_USEC", "2000000"),
        ],
    );

    let before_ready = notify.wait_for("READY=1", &pole);
    let ready = before_ready.last().unwrap();
    assert!(
        ready.contains(&"STATUS=pole ccs-test-01: plugins 1 installed, 0 refused".to_string()),
        "the status line names the pole and its plugins: {ready:?}"
    );
    assert_eq!(
        count(&before_ready, "WATCHDOG=1"),
        0,
        "no liveness before readiness: {before_ready:?}"
    );
    sub.wait_for("the birth", LONG, |m| {
        m.iter().any(|m| m.payload["online"] == true)
    });

    let running = notify.receive_for(Duration::from_secs(4));
    let pings = count(&running, "WATCHDOG=1");
    assert!(
        (3..=40).contains(&pings),
        "every half timeout, not every 50 ms step: {pings} pings in 4 s: {running:?}"
    );

    assert!(pole.terminate(), "the pole stops cleanly on SIGTERM");
    let stopping = notify.receive_for(Duration::from_millis(500));
    assert!(
        count(&stopping, "STOPPING=1") == 1,
        "the pole says it stops: {stopping:?}"
    );
}

#[test]
fn a_watchdog_meant_for_another_process_is_left_alone() {
    let bench = Bench::new();
    bench.package("misbehave", misbehave_files_as("misbehave"));
    let broker = Mosquitto::start(&bench.path("broker"));
    let notify = NotifySocket::bind(&bench);
    // systemd sets WATCHDOG_PID to the process it watches; a pole that inherited the
    // variables from a parent is not that process.
    let pole = PoleProcess::start_with_env(
        bench.dir.path(),
        &pole_config(&broker),
        &[
            ("NOTIFY_SOCKET", &notify.path),
            ("WATCHDOG_USEC", "200000"),
            ("WATCHDOG_PID", "1"),
        ],
    );
    notify.wait_for("READY=1", &pole);
    let running = notify.receive_for(Duration::from_secs(2));
    assert_eq!(count(&running, "WATCHDOG=1"), 0, "{running:?}");
    assert!(pole.terminate());
}
