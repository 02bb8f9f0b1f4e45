//! Terminal safety (CASES.md C13), through the real path: a scripted server (wiremock) serves
//! runs whose every field carries escape sequences and invisible characters; the real feed task
//! reads them over HTTP; its events are folded into an `App` with `update`; offloaded packets
//! are fetched with the real fetcher; and `ui::view` draws every screen a user can reach (each
//! run selected, the detail pane focused and scrolled, the log pane, several sizes, a failed
//! feed).
//!
//! Checked on every frame:
//! - no cell of a `TestBackend` holds a C0/C1 control, DEL, a bidi control, a zero-width or other
//!   invisible format character (ZWJ excepted);
//! - the hostile text is there, visibly escaped (`\e]0;…`, `\u001b]0;…`), for each field: run id,
//!   task, tags, status, payload, output, error name, message and stack (every error kind),
//!   metadata, idempotency key, TTL, decoding warnings, fetched packets, log lines, the failure;
//! - through a real `CrosstermBackend` writing into a `Vec<u8>`, the byte stream holds only the
//!   backend's own sequences (cursor moves, colours, cursor show/hide): no `ESC ]` (OSC, e.g. a
//!   title change), no `ESC [2J` (clear screen), no BEL, no NUL, no raw C1 control.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::{Backend, CrosstermBackend, TestBackend};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use serde_json::{Value as Json, json};
use tokio::sync::mpsc;
use tokio::time::timeout;
use wiremock::matchers::{method, path, path_regex, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use trigger_tui::app::{App, Cmd, Connection, Msg, update};
use trigger_tui::client::packets;
use trigger_tui::client::{FeedConfig, Transport, task};
use trigger_tui::config::Secret;
use trigger_tui::protocol::pg_array;

const BATCH: &str = "batch_demo0001";
const FEED_PATH: &str = "/realtime/v1/batches/batch_demo0001";
const PATIENCE: Duration = Duration::from_secs(20);

/// Every column the feed carries, typed as the server types them.
const SCHEMA: &str = r#"{"id":{"type":"text","pk_index":0,"not_null":true},"friendlyId":{"type":"text","not_null":true},"taskIdentifier":{"type":"text","not_null":true},"status":{"type":"TaskRunStatus","not_null":true},"createdAt":{"type":"timestamp","not_null":true},"updatedAt":{"type":"timestamp","not_null":true},"completedAt":{"type":"timestamp"},"number":{"type":"int4","not_null":true},"isTest":{"type":"bool","not_null":true},"runTags":{"type":"text","dims":1},"payload":{"type":"text"},"payloadType":{"type":"text"},"output":{"type":"text"},"outputType":{"type":"text"},"metadata":{"type":"text"},"metadataType":{"type":"text"},"error":{"type":"jsonb"},"idempotencyKey":{"type":"text"},"ttl":{"type":"text"},"usageDurationMs":{"type":"int4"},"costInCents":{"type":"float8"}}"#;

/// A hostile value, labelled so each field's copy can be found on screen: an OSC title change
/// ended by BEL, clear screen, cursor home, an 8-bit CSI, a bidi override, zero-width and
/// invisible characters, NUL, DEL, a tag character, CR LF and a tab.
fn evil(field: &str) -> String {
    format!(
        "\u{1b}]0;{field}\u{7}\u{1b}[2J\u{1b}[H\u{9b}31m\u{202e}\u{200b}\u{feff}\u{61c}\u{0}\u{7f}\
         \u{e0041}\u{85}\r\n\tend"
    )
}

/// The ways the start of [`evil`] may be shown escaped: by the sanitizer (`\e`), inside JSON
/// text (`\u001b`), or inside a Rust-quoted warning (`\u{1b}`).
fn shown(field: &str) -> [String; 3] {
    [
        format!("\\e]0;{field}\\x07\\e[2J"),
        format!("\\u001b]0;{field}\\u0007\\u001b[2J"),
        format!("\\u{{1b}}]0;{field}\\u{{7}}\\u{{1b}}[2J"),
    ]
}

/// The fields whose hostile copy must be seen, escaped, on some screen.
const FIELDS: &[&str] = &[
    "id",
    "task",
    "tag",
    "status",
    "payload",
    "payloadkey",
    "output",
    "annotation",
    "metadata",
    "idem",
    "ttl",
    "warning",
    "name",
    "message",
    "stack",
    "custom",
    "cjson",
    "string",
    "code",
    "imsg",
    "istack",
    "etype",
    "text",
    "invalid",
    "fetched",
    "orphan",
    "fail",
];

fn row_key(internal_id: &str) -> String {
    format!("\"public\".\"TaskRun\"/\"{internal_id}\"")
}

fn insert(n: u32, columns: Json) -> Json {
    let id = format!("cmrun{n:04}");
    let mut value = json!({
        "id": id,
        "friendlyId": format!("run_{n:04}"),
        "taskIdentifier": "import-rows",
        "status": "COMPLETED_WITH_ERRORS",
        "createdAt": "2026-12-03 10:00:00.000",
        "updatedAt": "2026-12-03 10:00:01.000",
        "completedAt": "2026-12-03 10:00:09.000",
        "number": n.to_string(),
        "isTest": "f",
        "runTags": "{}",
        "payload": null, "payloadType": null,
        "output": null, "outputType": null,
        "metadata": null, "metadataType": null,
        "error": null, "idempotencyKey": null, "ttl": null,
        "usageDurationMs": "1200", "costInCents": "0.5",
    });
    for (k, v) in columns.as_object().unwrap() {
        value[k] = v.clone();
    }
    json!({"key": row_key(&id), "value": value, "headers": {"operation": "insert"}})
}

/// Runs that carry [`evil`] in every field, one error kind each.
fn hostile_rows() -> Vec<Json> {
    let built_in = json!({"type": "BUILT_IN_ERROR", "name": evil("name"), "message": evil("message"),
        "stackTrace": format!("Error: boom\n{}\n    at run (task.ts:3:9)", evil("stack"))});
    let output = json!({"json": {"o": evil("output"), "n": "1"},
        "meta": {"values": {"n": [["custom", evil("annotation")]]}}});
    let mut payload = serde_json::Map::new();
    payload.insert("p".into(), json!(evil("payload")));
    payload.insert(evil("payloadkey"), json!(1));
    vec![
        insert(
            1,
            json!({
                "friendlyId": format!("run_{}", evil("id")),
                "taskIdentifier": evil("task"),
                "status": format!("QUARANTINED{}", evil("status")),
                "runTags": pg_array::encode(&[Some(evil("tag")), Some("plain".to_string())]),
                "payload": Json::Object(payload).to_string(),
                "payloadType": "application/json",
                "output": output.to_string(),
                "outputType": "application/super+json",
                "metadata": json!({"log": "50%\r75%\r100%", "m": evil("metadata")}).to_string(),
                "metadataType": "application/json",
                "error": built_in.to_string(),
                "idempotencyKey": evil("idem"),
                "ttl": evil("ttl"),
                "createdAt": evil("warning"),
            }),
        ),
        insert(
            2,
            json!({
                "error": json!({"type": "CUSTOM_ERROR", "raw": evil("custom")}).to_string(),
                "payload": evil("text"),
                "payloadType": "text/plain",
                "output": "run_0002/output.json",
                "outputType": "application/store",
            }),
        ),
        insert(
            3,
            json!({
                "error": json!({"type": "STRING_ERROR", "raw": evil("string")}).to_string(),
                "output": format!("{{{}", evil("invalid")),
                "outputType": "application/json",
            }),
        ),
        insert(
            4,
            json!({"error": json!({"type": "INTERNAL_ERROR", "code": evil("code"),
                "message": evil("imsg"), "stackTrace": evil("istack")}).to_string()}),
        ),
        insert(
            5,
            json!({"error": json!({"type": evil("etype"), "detail": 1}).to_string()}),
        ),
        insert(
            6,
            json!({"error": json!({"type": "CUSTOM_ERROR",
                "raw": json!({"x": evil("cjson")}).to_string()}).to_string()}),
        ),
        // An update for a key never inserted: a placeholder run named by its internal id, and
        // a warning in the log that quotes the key.
        json!({"key": row_key(&evil("orphan")), "value": {"id": evil("orphan"), "status": "EXECUTING"},
            "headers": {"operation": "update"}}),
        // An operation nobody knows: logged, with the key.
        json!({"key": row_key("cmrun0001"), "value": {"id": "cmrun0001"},
            "headers": {"operation": evil("op")}}),
        json!({"headers": {"control": "up-to-date"}}),
    ]
}

fn feed_config(base: &str) -> FeedConfig {
    FeedConfig {
        api_url: reqwest::Url::parse(base).unwrap(),
        batch_id: BATCH.to_string(),
        token: Secret::new("tr_dev_terminal_safety".into()),
        branch: None,
        skip_columns: vec![],
    }
}

/// The scripted server: the hostile snapshot, the batch record, an offloaded packet whose data
/// is hostile, and then either a held live request or `live` for it.
async fn server(live: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(FEED_PATH))
        .and(query_param("offset", "-1"))
        .and(query_param_is_missing("handle"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("electric-handle", "h-1")
                .insert_header("electric-offset", "100_0")
                .insert_header("electric-schema", SCHEMA)
                .insert_header("electric-up-to-date", "")
                .set_body_raw(Json::Array(hostile_rows()).to_string(), "application/json"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(FEED_PATH))
        .and(query_param("handle", "h-1"))
        .respond_with(live)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/batches/{BATCH}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": BATCH, "status": evil("batchstatus"), "runCount": 7})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/v1/runs/[^/]+/packets/output$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"presignedUrl": format!("{}/store/o", server.uri())})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/store/o"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(evil("fetched"), "text/plain"))
        .mount(&server)
        .await;
    server
}

/// Log lines go to the log pane's buffer (tui-logger), as in the dashboard.
fn log_pane() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        trigger_tui::logging::init(trigger_tui::logging::Sink::LogPane, None).unwrap();
    });
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// The feed task against `server`, folded into an app until `done`; offloaded packets are
/// fetched with the real fetcher and their results fed back, as the event loop does.
async fn watch(server: &MockServer, done: impl Fn(&App) -> bool) -> App {
    let (tx, mut rx) = mpsc::channel(64);
    let config = feed_config(&server.uri());
    let transport = Transport::http().unwrap();
    let feed = task::spawn(config.clone(), transport.clone(), tx);
    let mut app = App::new(BATCH, "terminal safety", Utc::now());
    update(&mut app, Msg::Resize(120, 60));
    timeout(PATIENCE, async {
        while !done(&app) {
            let event = rx.recv().await.expect("the feed task ended");
            update(&mut app, Msg::Feed(event));
            fetch_all(&mut app, &transport, &config).await;
        }
    })
    .await
    .expect("the feed reached the expected state in time");
    feed.abort();
    app
}

async fn fetch_all(app: &mut App, transport: &Transport, config: &FeedConfig) {
    while !app.outbox.is_empty() {
        for cmd in std::mem::take(&mut app.outbox) {
            let Cmd::FetchPacket {
                run_id,
                field,
                path,
            } = cmd
            else {
                continue;
            };
            let result = packets::fetch(transport, config, &run_id, field, &path).await;
            update(
                app,
                Msg::PacketFetched {
                    run_id,
                    field,
                    path,
                    result,
                },
            );
        }
    }
}

/// True for a character that must never reach a terminal cell raw.
fn dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c as u32,
            0xad | 0x61c | 0x180e
            | 0x200b..=0x200c | 0x200e..=0x200f
            | 0x2028..=0x202e | 0x2060..=0x206f
            | 0xfeff | 0xfff9..=0xfffb
            | 0xe0000..=0xe007f)
}

fn assert_clean(buffer: &Buffer, what: &str) {
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            let symbol = buffer[(x, y)].symbol();
            if let Some(c) = symbol.chars().find(|&c| dangerous(c)) {
                panic!(
                    "{what}: raw {c:?} in cell ({x}, {y}) {symbol:?}; row: {:?}",
                    row_text(buffer, y)
                );
            }
        }
    }
}

fn row_text(buffer: &Buffer, y: u16) -> String {
    (0..buffer.area.width)
        .map(|x| buffer[(x, y)].symbol())
        .collect()
}

fn screen_text(buffer: &Buffer) -> String {
    (0..buffer.area.height)
        .map(|y| row_text(buffer, y) + "\n")
        .collect()
}

/// Every screen a user reaches with the keys, at one size: each run selected, its detail
/// focused and paged through to the end, the log pane; `draw` renders the app's state.
fn tour(app: &mut App, (w, h): (u16, u16), draw: &mut dyn FnMut(&App, &str)) {
    update(app, Msg::Resize(w, h));
    update(app, key(KeyCode::Home));
    for i in 0..app.runs.len() {
        draw(app, &format!("{w}x{h}, run {i} selected"));
        update(app, key(KeyCode::Tab));
        for page in 0..12 {
            update(app, key(KeyCode::PageDown));
            draw(app, &format!("{w}x{h}, run {i}, detail page {page}"));
        }
        update(app, key(KeyCode::End));
        draw(app, &format!("{w}x{h}, run {i}, detail end"));
        update(app, key(KeyCode::Home));
        update(app, key(KeyCode::Tab));
        update(app, key(KeyCode::Down));
    }
    update(app, key(KeyCode::Char('l')));
    draw(app, &format!("{w}x{h}, log pane"));
    update(app, key(KeyCode::Char('l')));
}

const SIZES: &[(u16, u16)] = &[(120, 60), (80, 24), (200, 50), (40, 12)];

/// Draws every screen on a `TestBackend`; returns all the text seen.
fn tour_test_backend(app: &mut App) -> String {
    let mut seen = String::new();
    for &size in SIZES {
        let mut terminal = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
        tour(app, size, &mut |app, what| {
            terminal
                .draw(|frame| trigger_tui::ui::view(app, frame))
                .unwrap();
            let buffer = terminal.backend().buffer();
            assert_clean(buffer, what);
            seen.push_str(&screen_text(buffer));
        });
    }
    seen
}

/// A writer whose bytes the test can read back (the backend's own accessor is unstable).
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Draws every screen through crossterm into bytes, as a terminal would receive them.
fn tour_crossterm(app: &mut App) -> Vec<u8> {
    let capture = Capture::default();
    for &(w, h) in SIZES {
        let backend = CrosstermBackend::new(capture.clone());
        let mut terminal = Terminal::with_options(
            backend,
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
            },
        )
        .unwrap();
        tour(app, (w, h), &mut |app, _| {
            terminal
                .draw(|frame| trigger_tui::ui::view(app, frame))
                .unwrap();
        });
        terminal.backend_mut().flush().unwrap();
    }
    capture.0.lock().unwrap().clone()
}

/// Walks the byte stream: every ESC must start a sequence the backend itself writes (CSI with
/// final `H` or `m` for moves and colours, `?25l`/`?25h` for the cursor); the text between
/// holds no control character or invisible formatting character.
fn assert_stream_clean(bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).expect("the backend writes UTF-8");
    assert!(
        !text.contains("\u{1b}]"),
        "an OSC sequence reached the terminal"
    );
    assert!(
        !text.contains("\u{1b}[2J"),
        "a clear-screen reached the terminal"
    );
    assert!(!text.contains("\u{1b}P") && !text.contains("\u{1b}_") && !text.contains("\u{1b}^"));
    let mut chars = text.char_indices().peekable();
    let mut sequences = BTreeSet::new();
    while let Some((at, c)) = chars.next() {
        if c == '\u{1b}' {
            let Some((_, '[')) = chars.next() else {
                panic!(
                    "ESC not followed by '[' at byte {at}: {:?}",
                    &text[at..at + 12]
                );
            };
            let mut params = String::new();
            let final_byte = loop {
                match chars.next() {
                    Some((_, p @ '\u{20}'..='\u{3f}')) => params.push(p),
                    Some((_, f @ '\u{40}'..='\u{7e}')) => break f,
                    other => panic!("malformed CSI at byte {at}: {other:?}"),
                }
            };
            let ok = match final_byte {
                'H' | 'm' => params
                    .chars()
                    .all(|p| p.is_ascii_digit() || p == ';' || p == ':'),
                'l' | 'h' => params == "?25",
                _ => false,
            };
            assert!(
                ok,
                "a sequence the backend does not write: ESC [{params}{final_byte} at byte {at}"
            );
            sequences.insert(final_byte);
            continue;
        }
        assert!(
            !dangerous(c),
            "raw {c:?} in the byte stream at byte {at}: {:?}",
            &text[at.saturating_sub(20)..(at + 20).min(text.len())]
        );
    }
    assert!(sequences.contains(&'H') && sequences.contains(&'m'));
    // The data did reach the terminal: as visible escapes.
    assert!(text.contains("\\e]0;"), "no escaped data in the stream");
}

#[test]
#[should_panic(expected = "OSC")]
fn the_stream_check_catches_a_title_change() {
    assert_stream_clean(b"\x1b[1;1Hok\\e]0;\x1b]0;owned\x07");
}

#[test]
#[should_panic(expected = "raw")]
fn the_stream_check_catches_an_8_bit_csi() {
    assert_stream_clean("\x1b[1;1Hok\\e]0;\u{9b}2J\x1b[0m".as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_run_data_never_reaches_the_terminal_raw() {
    log_pane();
    let server = server(ResponseTemplate::new(200).set_delay(Duration::from_secs(600))).await;
    let mut app = watch(&server, |app| {
        app.runs.len() == 7
            && app.batch_info.is_some()
            && app
                .detail
                .as_ref()
                .is_some_and(|d| d.run_id.starts_with("run_\u{1b}"))
    })
    .await;
    // Fetch the offloaded output of run 2 the way the detail pane asks for it.
    let transport = Transport::http().unwrap();
    let config = feed_config(&server.uri());
    update(&mut app, key(KeyCode::Home));
    for _ in 0..app.runs.len() {
        update(&mut app, key(KeyCode::Down));
        fetch_all(&mut app, &transport, &config).await;
    }
    // Give the log pane a moment to collect the feed's warnings.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let seen = tour_test_backend(&mut app);
    let missing: Vec<&str> = FIELDS
        .iter()
        .copied()
        .filter(|f| !matches!(*f, "fail"))
        .filter(|f| !shown(f).iter().any(|s| seen.contains(s.as_str())))
        .collect();
    assert!(
        missing.is_empty(),
        "fields whose hostile text is not shown escaped anywhere: {missing:?}"
    );
    // CR progress in metadata shows every part, never overwritten.
    assert!(seen.contains(r"50%\r75%\r100%"), "metadata progress");

    assert_stream_clean(&tour_crossterm(&mut app));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_error_from_the_server_is_shown_escaped() {
    log_pane();
    // The live request is refused with a hostile message: the feed fails for good.
    let live = ResponseTemplate::new(400).set_body_json(json!({"error": evil("fail")}));
    let server = server(live).await;
    let mut app = watch(&server, |app| {
        matches!(app.connection, Connection::Failed { .. })
    })
    .await;
    let Connection::Failed { detail, .. } = &app.connection else {
        unreachable!()
    };
    assert!(detail.contains("\\e]0;fail"), "{detail}");
    let seen = tour_test_backend(&mut app);
    assert!(
        shown("fail").iter().any(|s| seen.contains(s.as_str())),
        "the failure is shown escaped"
    );
    assert_stream_clean(&tour_crossterm(&mut app));
}

// ---------------------------------------------------------------------------------------------
// Headless mode: `--output ndjson` writes run data to stdout and warnings to stderr, which are
// often a terminal too.
// ---------------------------------------------------------------------------------------------

/// A server whose one run (final, so `--exit-when-done` ends the session) has a hostile id and
/// an offloaded payload at a hostile path that cannot be fetched.
async fn headless_server() -> MockServer {
    let rows = vec![
        insert(
            1,
            json!({
                "friendlyId": format!("run_{}", evil("id")),
                "status": "COMPLETED_SUCCESSFULLY",
                "payload": format!("p/{}", evil("path")),
                "payloadType": "application/store",
                "output": json!({"o": evil("output")}).to_string(),
                "outputType": "application/json",
                "error": json!({"type": "STRING_ERROR", "raw": evil("string")}).to_string(),
            }),
        ),
        json!({"key": row_key(&evil("orphan")), "value": {"id": evil("orphan"), "status": "COMPLETED_SUCCESSFULLY"},
            "headers": {"operation": "update"}}),
        json!({"headers": {"control": "up-to-date"}}),
    ];
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(FEED_PATH))
        .and(query_param("offset", "-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("electric-handle", "h-1")
                .insert_header("electric-offset", "100_0")
                .insert_header("electric-schema", SCHEMA)
                .insert_header("electric-up-to-date", "")
                .set_body_raw(Json::Array(rows).to_string(), "application/json"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(FEED_PATH))
        .and(query_param("handle", "h-1"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(600)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/batches/{BATCH}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": BATCH, "runCount": 2})))
        .mount(&server)
        .await;
    // Packet endpoints: not found, with a hostile message.
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/v1/"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": evil("404")})))
        .mount(&server)
        .await;
    server
}

/// Runs the binary headless against the scripted server; returns (stdout, stderr).
async fn headless(server: &MockServer) -> (Vec<u8>, Vec<u8>) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trigger-tui"));
    cmd.args([
        "--api-url",
        &server.uri(),
        "--batch",
        BATCH,
        "--output",
        "ndjson",
        "--exit-when-done",
    ])
    .env("TRIGGER_SECRET_KEY", "tr_dev_terminal_safety")
    .env_remove("TRIGGER_TUI_LOG")
    .env("HOME", home.path())
    .env("XDG_CONFIG_HOME", home.path())
    .stdin(std::process::Stdio::null());
    let run = tokio::task::spawn_blocking(move || cmd.output());
    let output = timeout(Duration::from_secs(60), run)
        .await
        .expect("the headless run ended")
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    (output.stdout, output.stderr)
}

fn first_dangerous(bytes: &[u8]) -> Option<(usize, char, String)> {
    let text = String::from_utf8_lossy(bytes);
    text.char_indices()
        .find(|&(_, c)| dangerous(c) && c != '\n')
        .map(|(at, c)| {
            let from = text[..at]
                .char_indices()
                .rev()
                .nth(60)
                .map_or(0, |(i, _)| i);
            (at, c, text[from..(at + 40).min(text.len())].to_string())
        })
}

/// stdout is JSON (serde escapes C0 controls); stderr is for people, and gets warnings about
/// packets that could not be fetched, which quote the run id and the storage path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_stderr_never_carries_raw_escapes() {
    let server = headless_server().await;
    let (_, stderr) = headless(&server).await;
    if let Some((at, c, around)) = first_dangerous(&stderr) {
        panic!(
            "raw {c:?} at byte {at} of stderr: {around:?}\nall of stderr: {:?}",
            String::from_utf8_lossy(&stderr)
        );
    }
}

/// JSON lets C1 controls, DEL and bidi controls through unescaped, and serde_json writes them
/// raw; a terminal showing `--output ndjson` then receives them (U+009B is CSI in C1 form).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_stdout_never_carries_raw_controls() {
    let server = headless_server().await;
    let (stdout, _) = headless(&server).await;
    assert!(!stdout.contains(&0x1b), "ESC is escaped by JSON");
    if let Some((at, c, around)) = first_dangerous(&stdout) {
        panic!("raw {c:?} at byte {at} of stdout: {around:?}");
    }
}
