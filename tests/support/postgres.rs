//! A throwaway PostgreSQL for the state backend's tests: one server per test process, one fresh
//! database per test (so tests run in parallel), on 127.0.0.1 and an ephemeral port.
//!
//! The server is the system's PostgreSQL (`initdb` and `postgres` from `pg_config --bindir` or
//! `/usr/lib/postgresql/*/bin`, never from `PATH`), in a temporary folder that also holds its
//! Unix socket. As root (CI), it runs as the `postgres` user Debian's package creates (or
//! `nobody`): PostgreSQL refuses to run as root. It never outlives the test process: a small
//! shell watchdog, whose stdin is a pipe only this process holds, stops the server (fast
//! shutdown) and removes the folder as soon as that pipe closes, however the process ends.
//!
//! `NYLAS_MIGRATE_TEST_DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DB` uses that server
//! instead (the user must be allowed to create databases). Without either, the tests that need
//! a server say so in one line and pass; under CI (`CI` set) that is a failure.
//!
//! Self-contained (the benchmarks include it by path).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The variable naming a server to use instead of a throwaway one.
pub const DATABASE_URL_VAR: &str = "NYLAS_MIGRATE_TEST_DATABASE_URL";

/// A server the tests may create databases on.
pub struct Server {
    host: String,
    port: u16,
    user: String,
    password: String,
    /// The database to connect to for `CREATE DATABASE`.
    admin_db: String,
    /// The watchdog: its stdin closes when this process ends (see the module's doc); a line
    /// `stop` or `start` on it stops the server (fast shutdown) or starts it again.
    watchdog: Option<(Child, std::sync::Mutex<ChildStdin>)>,
    /// A throwaway server also speaks TLS, with the test certificate for 127.0.0.1 that
    /// `tests/fixtures/tls/ca.pem` signed; this is that CA file.
    pub tls_ca: Option<PathBuf>,
}

/// The test CA and the server certificate it signed for 127.0.0.1 (`tests/fixtures/tls`).
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// One test's database.
#[derive(Clone)]
pub struct TestDb {
    pub name: String,
    host: String,
    port: u16,
    user: String,
    password: String,
    /// `?sslmode=disable` on a server that also speaks TLS: the tests of TLS ask for it; the
    /// others need no CA file.
    query: &'static str,
}

impl TestDb {
    /// The URL without the password (give [`TestDb::env`] with it), as `--state` takes it.
    pub fn url(&self) -> String {
        format!(
            "postgres://{}@{}:{}/{}{}",
            self.user, self.host, self.port, self.name, self.query
        )
    }

    /// The URL with the password in it, as a plan's secret may hold it.
    pub fn url_with_password(&self) -> String {
        format!(
            "postgres://{}:{}@{}:{}/{}{}",
            self.user, self.password, self.host, self.port, self.name, self.query
        )
    }

    /// The URL without the password and without an `sslmode`: TLS as the tool does it by
    /// default.
    pub fn url_without_sslmode(&self) -> String {
        format!(
            "postgres://{}@{}:{}/{}",
            self.user, self.host, self.port, self.name
        )
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The same database reached through another port on 127.0.0.1 (a proxy).
    pub fn via_port(&self, port: u16) -> TestDb {
        TestDb {
            port,
            ..self.clone()
        }
    }

    /// The environment a child process needs for [`TestDb::url`]: `PGPASSWORD`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("PGPASSWORD".into(), self.password.clone())]
    }

    /// Runs `f` with a connection to this database, on a thread of its own (the synchronous
    /// client must not run inside an async runtime).
    /// Ends every lock session of this database (`pg_terminate_backend`), as a failover or a
    /// cut connection would; returns how many there were.
    pub fn end_lock_sessions(&self) -> usize {
        self.with(|c| {
            c.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = 'nylas-migrate lock'",
                &[],
            )
            .unwrap()
            .len()
        })
    }

    pub fn with<T: Send>(&self, f: impl FnOnce(&mut postgres::Client) -> T + Send) -> T {
        let url = self.url_with_password();
        std::thread::scope(|s| {
            s.spawn(move || {
                let mut client = postgres::Client::connect(&url, postgres::NoTls)
                    .unwrap_or_else(|e| panic!("connect to the test database: {e}"));
                f(&mut client)
            })
            .join()
            .expect("the test database's thread")
        })
    }

    /// Every row of every table of the state's schema, as text (bytes as hex).
    pub fn dump(&self) -> String {
        self.with(|c| {
            let tables: Vec<String> = c
                .query(
                    "SELECT table_name::text FROM information_schema.tables
                     WHERE table_schema = 'nylas_migrate' ORDER BY 1",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut out = String::new();
            for table in tables {
                out.push_str(&format!("== {table}\n"));
                for row in c
                    .query(&format!("SELECT t::text FROM nylas_migrate.{table} t"), &[])
                    .unwrap()
                {
                    out.push_str(row.get::<_, &str>(0));
                    out.push('\n');
                }
            }
            out
        })
    }
}

impl Server {
    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether a connection is accepted now.
    pub fn accepts(&self) -> bool {
        let url = self.admin_url();
        std::thread::spawn(move || postgres::Client::connect(&url, postgres::NoTls).is_ok())
            .join()
            .unwrap_or(false)
    }

    fn tell(&self, line: &str) {
        let (_, stdin) = self
            .watchdog
            .as_ref()
            .expect("only a throwaway server can be stopped and started");
        let mut stdin = stdin.lock().unwrap();
        writeln!(stdin, "{line}").expect("the watchdog reads its stdin");
        stdin.flush().expect("the watchdog reads its stdin");
    }

    /// Stops the server with a fast shutdown (every session ended, as `pg_ctl stop -m fast`,
    /// the first half of `pg_ctl restart -m fast`) and returns once it refuses connections.
    pub fn stop(&self) {
        self.tell("stop");
        let until = Instant::now() + Duration::from_secs(60);
        while self.accepts() {
            assert!(Instant::now() < until, "the server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a stopped server again and returns once it accepts connections.
    pub fn start_again(&self) {
        self.tell("start");
        let until = Instant::now() + Duration::from_secs(60);
        while !self.accepts() {
            assert!(Instant::now() < until, "the server did not start again");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn admin_url(&self) -> String {
        format!(
            "postgres://{}:{}@{}:{}/{}",
            self.user, self.password, self.host, self.port, self.admin_db
        )
    }

    /// A new empty database for one test.
    pub fn database(&self) -> TestDb {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "nm_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let url = self.admin_url();
        let create = format!("CREATE DATABASE {name}");
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut client = postgres::Client::connect(&url, postgres::NoTls)
                    .unwrap_or_else(|e| panic!("connect to the test server: {e}"));
                client
                    .batch_execute(&create)
                    .unwrap_or_else(|e| panic!("{create}: {e}"));
            })
            .join()
            .expect("create the test database")
        });
        TestDb {
            name,
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            password: self.password.clone(),
            query: if self.tls_ca.is_some() {
                "?sslmode=disable"
            } else {
                ""
            },
        }
    }
}

/// The server every test of this process shares, started on first use; `None` (after saying so
/// once) when there is none here. Under CI a missing server is a failure.
pub fn server() -> Option<&'static Server> {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    match SERVER.get_or_init(|| start(true)) {
        Ok(server) => Some(server),
        Err(why) => {
            static SAID: std::sync::Once = std::sync::Once::new();
            let line = format!(
                "skipping the PostgreSQL state tests: {why}. To run them, install PostgreSQL (Debian: apt-get install postgresql) or set {DATABASE_URL_VAR}=postgres://USER:PASSWORD@HOST:PORT/DB (a user that may create databases)"
            );
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("under CI every PostgreSQL test must run: {line}");
            }
            // Straight to the process's stderr: the test harness captures `eprintln!`.
            SAID.call_once(|| {
                let _ = writeln!(std::io::stderr(), "{line}");
            });
            None
        }
    }
}

/// A fresh database on the shared server, or `None` when there is no server (see [`server`]).
pub fn database() -> Option<TestDb> {
    server().map(Server::database)
}

/// Starts a server: the one `NYLAS_MIGRATE_TEST_DATABASE_URL` names, or a throwaway cluster.
/// `fast`: no fsync (a throwaway cluster for tests); otherwise durable commits, as a real
/// server has (for benchmarks).
pub fn start(fast: bool) -> Result<Server, String> {
    if let Some(url) = std::env::var(DATABASE_URL_VAR)
        .ok()
        .filter(|v| !v.is_empty())
    {
        return external(&url);
    }
    let bin = bindir().ok_or("no PostgreSQL server binaries here (initdb, postgres)")?;
    let mut last = String::new();
    // A port taken between choosing it and the server binding it: try again with another.
    for _ in 0..3 {
        match throwaway(&bin, fast) {
            Ok(server) => return Ok(server),
            Err(e) => last = e,
        }
    }
    Err(format!("the throwaway PostgreSQL did not start: {last}"))
}

fn external(url: &str) -> Result<Server, String> {
    use std::str::FromStr;
    let config = postgres::Config::from_str(url).map_err(|e| format!("{DATABASE_URL_VAR}: {e}"))?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => return Err(format!("{DATABASE_URL_VAR} must name a TCP host")),
    };
    // Reachable now, or the tests are skipped with the reason (not failed one by one).
    let reachable = std::thread::spawn({
        let url = url.to_owned();
        move || postgres::Client::connect(&url, postgres::NoTls).map(|_| ())
    })
    .join()
    .map_err(|_| format!("{DATABASE_URL_VAR}: the connection attempt panicked"))?;
    reachable.map_err(|e| {
        let cause = std::error::Error::source(&e)
            .map(|c| format!(": {c}"))
            .unwrap_or_default();
        format!("{DATABASE_URL_VAR} cannot be reached: {e}{cause}")
    })?;
    Ok(Server {
        host,
        port: config.get_ports().first().copied().unwrap_or(5432),
        user: config.get_user().unwrap_or("postgres").to_owned(),
        password: config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default(),
        admin_db: config.get_dbname().unwrap_or("postgres").to_owned(),
        watchdog: None,
        tls_ca: None,
    })
}

/// Where `initdb` and `postgres` are: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian's layout).
pub fn bindir() -> Option<PathBuf> {
    let has = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has(&dir) {
            return Some(dir);
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let dir = e.path().join("bin");
            has(&dir).then_some((version, dir))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, dir)| dir)
}

/// The account to run the server as when this process is root: PostgreSQL refuses root.
fn unprivileged() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    for name in [c"postgres", c"nobody"] {
        // SAFETY: a valid C string; the returned entry is read at once, before any other
        // getpw* call on this thread.
        let entry = unsafe { libc::getpwnam(name.as_ptr()) };
        if !entry.is_null() {
            // SAFETY: non-null, points at a passwd entry.
            let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
            return Some((uid, gid));
        }
    }
    None
}

fn as_user(cmd: &mut Command, user: Option<(u32, u32)>) -> &mut Command {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn chown(path: &Path, user: Option<(u32, u32)>) -> Result<(), String> {
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", path.display()))?;
    }
    Ok(())
}

fn throwaway(bin: &Path, fast: bool) -> Result<Server, String> {
    let user = unprivileged();
    let dir = tempfile::Builder::new()
        .prefix("nylas-migrate-pg-")
        .tempdir()
        .map_err(|e| format!("temporary folder: {e}"))?
        // The watchdog removes it (a static is never dropped).
        .keep();
    let cleanup = |e: String| {
        let _ = std::fs::remove_dir_all(&dir);
        e
    };
    chown(&dir, user).map_err(cleanup)?;
    let password: String = format!("pw-{:016x}", rand_u64());
    let pwfile = dir.join("pw");
    std::fs::write(&pwfile, &password).map_err(|e| cleanup(format!("password file: {e}")))?;
    chown(&pwfile, user).map_err(cleanup)?;
    let data = dir.join("data");
    let out = as_user(&mut Command::new(bin.join("initdb")), user)
        .current_dir(&dir)
        .args(["-D"])
        .arg(&data)
        .args([
            "-U",
            "nylas",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
            "-N",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .env_remove("PGDATA")
        .output()
        .map_err(|e| cleanup(format!("initdb: {e}")))?;
    if !out.status.success() {
        return Err(cleanup(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| cleanup(format!("port: {e}")))?;
        listener
            .local_addr()
            .map_err(|e| cleanup(format!("port: {e}")))?
            .port()
    };
    // TLS with the test certificate (the key private to the server's user, as it demands).
    for name in ["server.pem", "server.key"] {
        let to = dir.join(name);
        std::fs::copy(fixture(name), &to).map_err(|e| cleanup(format!("{name}: {e}")))?;
        std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| cleanup(format!("{name}: {e}")))?;
        chown(&to, user).map_err(cleanup)?;
    }
    let log = dir.join("server.log");
    let durability = if fast {
        "-c fsync=off -c full_page_writes=off"
    } else {
        ""
    };
    // The watchdog: starts the server, waits for its stdin to close (this process ended), then
    // stops the server and removes the folder.
    // `stop` (fast shutdown, as `pg_ctl stop -m fast`) and `start` lines restart it.
    let script = format!(
        r#"exec 3<&0
run() {{ "$0" -D "$1" -p "$2" -k "$3" -c listen_addresses=127.0.0.1 -c max_connections=300 -c ssl=on -c ssl_cert_file="$3/server.pem" -c ssl_key_file="$3/server.key" {durability} </dev/null >>"$4" 2>&1 & pid=$!; }}
run "$@"
while read -r cmd <&3; do
  case "$cmd" in
    stop) kill -INT "$pid" 2>/dev/null; wait "$pid";;
    start) run "$@";;
  esac
done
kill -INT "$pid" 2>/dev/null
wait "$pid"
rm -rf "$3""#
    );
    let mut watchdog = as_user(&mut Command::new("/bin/sh"), user)
        .current_dir(&dir)
        .arg("-c")
        .arg(&script)
        .arg(bin.join("postgres"))
        .arg(&data)
        .arg(port.to_string())
        .arg(&dir)
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| cleanup(format!("start the server: {e}")))?;
    let stdin = watchdog.stdin.take().ok_or("the watchdog's stdin")?;
    let server = Server {
        host: "127.0.0.1".into(),
        port,
        user: "nylas".into(),
        password,
        admin_db: "postgres".into(),
        watchdog: Some((watchdog, std::sync::Mutex::new(stdin))),
        tls_ca: Some(fixture("ca.pem")),
    };
    // Ready when it accepts a connection (generous: a loaded CI machine).
    let until = Instant::now() + Duration::from_secs(60);
    let url = server.admin_url();
    loop {
        let attempt = std::thread::spawn({
            let url = url.clone();
            move || postgres::Client::connect(&url, postgres::NoTls).map(|_| ())
        })
        .join();
        match attempt {
            Ok(Ok(())) => return Ok(server),
            _ if Instant::now() > until => {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                // Dropping the server closes the watchdog's stdin: it cleans up.
                return Err(format!("not ready within 60 s; its log:\n{text}"));
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
        if let Ok(text) = std::fs::read_to_string(&log)
            && text.contains("could not bind")
        {
            return Err(format!("port {port} is taken: {text}"));
        }
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
