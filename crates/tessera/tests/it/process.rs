//! The real `tessera serve` as a child process: set up with `tessera init`,
//! started on a free port with its logs in files, stopped gracefully or
//! killed with SIGKILL, and restarted on the same database.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// A `tessera` command with a clean environment: no stray `TESSERA_*`
/// from the developer's shell.
pub fn tessera(dir: &Path, database_url: &str) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("TESSERA_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.env("TESSERA_DATABASE_URL", database_url)
        .env("TESSERA_CONFIG_DIR", dir.join("config"))
        .env("HOME", dir)
        .current_dir(dir);
    cmd
}

/// `tessera init` for org "acme": returns an owner token.
pub fn init(dir: &Path, database_url: &str, email: &str, password: &str) -> String {
    use std::io::Write;
    let mut child = tessera(dir, database_url)
        .args(["init", "--org", "acme", "--email", email])
        .args(["--password-stdin", "--print-token"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn init");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write password");
    let out = child.wait_with_output().expect("init");
    assert!(
        out.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A running `tessera serve`.
pub struct ServeProcess {
    child: Child,
    pub base: String,
    /// stdout and stderr of this run.
    pub logs: [PathBuf; 2],
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl ServeProcess {
    /// Starts `tessera serve` on `database_url` with extra environment
    /// variables, and waits until it answers `/healthz`. `run` names the
    /// log files (`<run>.stdout`, `<run>.stderr` in `dir`).
    pub async fn start(dir: &Path, database_url: &str, run: &str, env: &[(&str, &str)]) -> Self {
        let logs = [
            dir.join(format!("{run}.stdout")),
            dir.join(format!("{run}.stderr")),
        ];
        // A port can be taken between choosing and binding; try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = tessera(dir, database_url);
            cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(File::create(&logs[0]).expect("log file"))
                .stderr(File::create(&logs[1]).expect("log file"));
            let child = cmd.spawn().expect("spawn serve");
            let mut server = Self {
                child,
                base: format!("http://127.0.0.1:{port}"),
                logs: logs.clone(),
            };
            if server.wait_ready().await {
                return server;
            }
            server.kill9();
        }
        panic!(
            "tessera serve did not start; stderr:\n{}",
            std::fs::read_to_string(&logs[1]).unwrap_or_default()
        );
    }

    async fn wait_ready(&mut self) -> bool {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let health = http.get(format!("{}/healthz", self.base)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a graceful exit.
    pub fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "could not send SIGTERM");
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "serve exited with {status}");
    }

    /// Everything this run wrote to stdout and stderr.
    pub fn log_text(&self) -> String {
        self.logs
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill9();
        }
    }
}
