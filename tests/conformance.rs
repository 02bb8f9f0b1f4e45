//! The official SDK is the referee: run `@trigger.dev/sdk` 4.8.3 (the harness in
//! `../shared/conformance`) and `trigger-tui --output ndjson` against the same embedded server,
//! and compare every run's final state field by field.
//!
//! Needs Node.js. The harness's dependencies come from `CONFORMANCE_DIR` (a copy of the harness
//! with `npm ci` done, as `.ci/run` prepares it) or are installed into a scratch copy here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use trigger_tui::server::{self, ServerConfig};

fn harness_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CONFORMANCE_DIR") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("node_modules/@trigger.dev/sdk").exists(),
            "CONFORMANCE_DIR={} has no node_modules; run `npm ci` there",
            dir.display()
        );
        return dir;
    }
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance");
    assert!(
        shared.exists(),
        "the SDK harness is missing at {}",
        shared.display()
    );
    let scratch =
        std::env::temp_dir().join(format!("trigger-tui-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    for entry in std::fs::read_dir(&shared).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            let target = scratch.join(entry.file_name());
            std::fs::copy(entry.path(), &target).unwrap();
            let mut perms = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).unwrap();
        }
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&scratch)
        .stdout(Stdio::null())
        .status()
        .expect("npm runs (Node.js 20+ is needed for the conformance test)");
    assert!(status.success(), "npm ci failed in {}", scratch.display());
    scratch
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}",
        output.status.code(),
        tail(&output.stdout),
        tail(&output.stderr)
    )
}

fn tail(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

async fn compare_on_batch(runs: usize, speed: f64, seed: u64) {
    let dir = harness_dir();
    let config = ServerConfig {
        runs,
        speed,
        seed,
        ..ServerConfig::default()
    };
    let server = server::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let (url, batch, key) = (
        server.base_url(),
        server.batch_id().to_string(),
        server.secret_key().to_string(),
    );
    let scratch = tempfile::tempdir().unwrap();
    let sdk_out = scratch.path().join("sdk.ndjson");
    let rust_out = scratch.path().join("rust.ndjson");

    let sdk = {
        let (dir, url, batch, key, out) = (
            dir.clone(),
            url.clone(),
            batch.clone(),
            key.clone(),
            sdk_out.clone(),
        );
        tokio::task::spawn_blocking(move || {
            Command::new("node")
                .arg("sdk-subscribe.mjs")
                .args([
                    "--batch",
                    &batch,
                    "--final",
                    "--require-final",
                    "--idle-ms",
                    "2000",
                ])
                .args(["--max-ms", "240000", "--expect-runs", &runs.to_string()])
                .env("TRIGGER_API_URL", &url)
                .env("TRIGGER_SECRET_KEY", &key)
                .current_dir(&dir)
                .stdout(std::fs::File::create(&out).unwrap())
                .output()
                .expect("node runs")
        })
    };
    let ours = {
        let (url, batch, key, out) = (url.clone(), batch.clone(), key.clone(), rust_out.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_trigger-tui"))
                .args(["--batch", &batch, "--output", "ndjson", "--exit-when-done"])
                .env("TRIGGER_API_URL", &url)
                .env("TRIGGER_SECRET_KEY", &key)
                .env_remove("TRIGGER_ACCESS_TOKEN")
                .stdout(std::fs::File::create(&out).unwrap())
                .output()
                .expect("trigger-tui runs")
        })
    };
    let (sdk, ours) = (sdk.await.unwrap(), ours.await.unwrap());
    assert!(
        sdk.status.success(),
        "the SDK harness failed:\n{}",
        text(&sdk)
    );
    assert!(
        ours.status.success(),
        "trigger-tui failed:\n{}",
        text(&ours)
    );
    let sdk_lines = std::fs::read_to_string(&sdk_out).unwrap().lines().count();
    assert_eq!(sdk_lines, runs, "the SDK saw every run");

    // number and ttl: the SDK documents them but does not yield them; we print them.
    let compare = Command::new("node")
        .arg(dir.join("compare.mjs"))
        .arg(&sdk_out)
        .arg(&rust_out)
        .args(["--ignore", "number,ttl"])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&compare.stdout);
    assert!(
        compare.status.success(),
        "the SDK and trigger-tui disagree:\n{report}"
    );
    assert!(report.contains("compare: OK"), "{report}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_and_ndjson_agree_on_every_run_of_a_100_run_batch() {
    compare_on_batch(100, 8.0, 7).await;
}
