//! Plugins through OCI registries: a real one — Debian's `docker-registry`, the CNCF
//! `distribution` server — started by each test on a free loopback port (with htpasswd basic
//! auth in one), and, for what a well-behaved registry never does (wrong bytes, silence), a
//! small HTTP server written here. Nothing reaches past loopback.
//!
//! `.ci/run` installs `docker-registry` and sets `SQRTSPACE_REQUIRE_REGISTRY=1`, under which
//! a missing server fails these tests; without it they say what is missing and stop.

use crate::cli::Start;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sqrtspace::plugin::content_hash;
use sqrtspace_test_artifacts as artifacts;

use crate::cli::{EXE, s};

/// A `distribution` registry on a free loopback port, stopped when dropped.
pub(crate) struct Registry {
    child: Child,
    pub(crate) addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The registry server, or `None` (with a note) where it is not installed.
fn server_binary() -> Option<PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("docker-registry"))
        .find(|p| p.is_file());
    if found.is_none() {
        let missing = "docker-registry (Debian's package of the CNCF distribution server) is \
                       not installed: `apt-get install docker-registry`";
        assert!(
            std::env::var_os("SQRTSPACE_REQUIRE_REGISTRY").is_none(),
            "{missing}"
        );
        eprintln!("skipping the registry tests: {missing}");
    }
    found
}

impl Registry {
    /// Starts a registry; with `user`, only that user (password `password`) may use it.
    pub(crate) fn start(user: Option<(&str, &str)>) -> Option<Registry> {
        let binary = server_binary()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = format!("127.0.0.1:{}", free_port());
        let auth = match user {
            Some((user, password)) => {
                let hash = bcrypt::hash(password, 4).expect("bcrypt");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, format!("{user}:{hash}\n")).expect("htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                    file.display()
                )
            }
            None => String::new(),
        };
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    \
                 rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{auth}",
                dir.path().join("data").display()
            ),
        )
        .expect("config");
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .start()
            .expect("starts docker-registry");
        let registry = Registry {
            child,
            addr,
            _dir: dir,
        };
        let started = Instant::now();
        while http(&registry.addr, "GET", "/v2/", &[], &[]).is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the registry did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(registry)
    }
}

/// One HTTP/1.1 request over a new connection: status, headers (lower-cased), body; `None`
/// when nothing answers.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, BTreeMap<String, String>, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).ok()?;
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((status, headers, reply[split + 4..].to_vec()))
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", content_hash(bytes))
}

/// Pushes `bytes` as a blob of `repository`: an upload opened with `POST`, then its bytes in
/// one `PUT` (the distribution spec's monolithic upload).
fn put_blob(addr: &str, repository: &str, bytes: &[u8]) -> String {
    let d = digest(bytes);
    let (status, headers, body) = http(
        addr,
        "POST",
        &format!("/v2/{repository}/blobs/uploads/"),
        &[],
        &[],
    )
    .expect("the registry answers");
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    let location = headers.get("location").expect("a Location");
    let path = location
        .strip_prefix(&format!("http://{addr}"))
        .unwrap_or(location);
    let separator = if path.contains('?') { '&' } else { '?' };
    let (status, _, body) = http(
        addr,
        "PUT",
        &format!("{path}{separator}digest={d}"),
        &[("Content-Type", "application/octet-stream")],
        bytes,
    )
    .expect("the registry answers");
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    d
}

/// An artifact in the layout `wkg oci push` writes (oci-wasm's `WasmConfig`: `created`, a
/// null `author`, `architecture`, `os`, `layerDigests`, `component` with a null `target`),
/// made and pushed here with plain HTTP requests.
fn push_as_wkg_does(addr: &str, repository: &str, tag: &str, component: &[u8]) -> String {
    let layer = put_blob(addr, repository, component);
    let config = format!(
        r#"{{"created":"2026-12-07T10:00:00.000000000Z","author":null,"architecture":"wasm","os":"wasip2","layerDigests":["{layer}"],"component":{{"exports":["sqrtspace:pipeline/stage@0.2.0"],"imports":[],"target":null}}}}"#
    );
    let config_digest = put_blob(addr, repository, config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.wasm.config.v0+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/wasm","digest":"{layer}","size":{}}}]}}"#,
        config.len(),
        component.len()
    );
    let (status, _, body) = http(
        addr,
        "PUT",
        &format!("/v2/{repository}/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        manifest.as_bytes(),
    )
    .expect("the registry answers");
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    digest(manifest.as_bytes())
}

/// A user's setup: a plugin cache, a compile cache and a Docker config of its own.
struct User {
    dir: tempfile::TempDir,
}

impl User {
    fn new() -> User {
        User {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cache(&self) -> PathBuf {
        self.path("oci")
    }

    /// Files in the plugin cache.
    fn cached(&self) -> Vec<String> {
        fn walk(dir: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path.display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.cache(), &mut out);
        out.sort();
        out
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(EXE);
        command
            .args(args)
            .env("SQRTSPACE_OCI_DIR", self.cache())
            .env("SQRTSPACE_CACHE_DIR", self.path("components"))
            .env_remove("SQRTSPACE_PLUGIN_PATH")
            .env("DOCKER_CONFIG", self.path("docker"))
            .env_remove("SQRTSPACE_REGISTRY_USER")
            .env_remove("SQRTSPACE_REGISTRY_PASSWORD");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).run().expect("runs")
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "sqrtspace {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs `args`, which must fail with `code`, one `error:` line containing each of
    /// `expected`, and nothing new in the plugin cache.
    fn fails(&self, args: &[&str], code: i32, expected: &[&str]) -> String {
        let before = self.cached();
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "sqrtspace {args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.lines().count() == 1,
            "{err}"
        );
        for text in expected {
            assert!(err.contains(text), "no {text:?} in: {err}");
        }
        assert_eq!(self.cached(), before, "{args:?} changed the plugin cache");
        err
    }
}

/// `pipelines/audio.ron` with its features and smoothing plugins named by reference (the
/// classifier stays a local file, copied beside it).
fn oci_pipeline(user: &User, features: &str, iir: &str) -> PathBuf {
    let text = std::fs::read_to_string(crate::common::root().join("pipelines/audio.ron"))
        .expect("audio.ron")
        .replace(
            r#"Plugin(path: "features.wasm""#,
            &format!(r#"Plugin(oci: "{features}""#),
        )
        .replace(r#"path: "iir.wasm","#, &format!(r#"oci: "{iir}","#));
    assert_eq!(text.matches("oci:").count(), 2, "audio.ron changed shape");
    let dir = user.path("pipeline");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(artifacts::CLASSIFY, dir.join("classify.wasm")).expect("copy");
    let path = dir.join("audio.ron");
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn push_pull_run_lock_and_offline_through_a_real_registry() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let user = User::new();
    let addr = &registry.addr.clone();
    let features = format!("{addr}/acme/features:1.2.0");
    let iir = format!("{addr}/acme/iir:1.0.0");

    // Push, then pull into an empty cache: the file's bytes, under its digest.
    let out = user.ok(&["plugin", "push", artifacts::FEATURES, &features]);
    let printed = String::from_utf8_lossy(&out.stdout);
    let pushed_digest = printed
        .trim()
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(pushed_digest.starts_with("sha256:"), "{printed}");
    user.ok(&["plugin", "push", artifacts::IIR, &format!("oci://{iir}")]);
    let out = user.ok(&["plugin", "pull", &format!("oci://{features}")]);
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut fields = line.split_whitespace();
    assert_eq!(fields.next(), Some(pushed_digest.as_str()), "{line}");
    let file = PathBuf::from(fields.next().expect("a path"));
    assert_eq!(
        std::fs::read(&file).expect("the cached file"),
        std::fs::read(artifacts::FEATURES).expect("the plugin")
    );

    // What wkg (oci-wasm) needs of the artifact to pull it: its manifest and config.
    let (status, _, manifest) = http(
        addr,
        "GET",
        "/v2/acme/features/manifests/1.2.0",
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        &[],
    )
    .expect("answers");
    assert_eq!(status, 200);
    assert_eq!(digest(&manifest), pushed_digest);
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).expect("json");
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    let plugin_bytes = std::fs::read(artifacts::FEATURES).expect("plugin");
    assert_eq!(
        layers[0]["digest"].as_str(),
        Some(digest(&plugin_bytes).as_str())
    );
    let config_digest = manifest["config"]["digest"].as_str().expect("digest");
    let (_, _, config) = http(
        addr,
        "GET",
        &format!("/v2/acme/features/blobs/{config_digest}"),
        &[],
        &[],
    )
    .expect("answers");
    let config: serde_json::Value = serde_json::from_slice(&config).expect("json");
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert_eq!(config["layerDigests"][0], layers[0]["digest"]);
    assert_eq!(
        config["component"]["target"],
        "sqrtspace:pipeline/plugin@0.2.0"
    );
    assert_eq!(manifest["annotations"]["dev.sqrtspace.contract"], "0.2.0");

    // `plugin inspect` of a reference: the digest and what the plugin says of itself.
    let out = user.ok(&["plugin", "inspect", &format!("oci://{features}"), "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(info["digest"].as_str(), Some(pushed_digest.as_str()));
    assert_eq!(info["wit_version"], "0.2.0");
    assert_eq!(
        info["sha256"].as_str(),
        Some(content_hash(&plugin_bytes).as_str())
    );

    // A pipeline naming the plugins by reference writes the local-file run's bytes.
    let wav = user.path("a.wav");
    user.ok(&["gen", "audio", "--seconds", "20", "--out", s(&wav)]);
    let local = user.path("local.npy");
    let pipelines = crate::common::root().join("pipelines");
    let out = user
        .command(&[
            "run",
            s(&pipelines.join("audio.ron")),
            "--input",
            s(&wav),
            "--output",
            s(&local),
        ])
        .env("SQRTSPACE_PLUGIN_PATH", artifacts::DIR)
        .run()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pipeline = oci_pipeline(&user, &features, &iir);
    let remote = user.path("remote.npy");
    user.ok(&[
        "run",
        s(&pipeline),
        "--input",
        s(&wav),
        "--output",
        s(&remote),
    ]);
    assert_eq!(std::fs::read(&remote).ok(), std::fs::read(&local).ok());

    // The lock: every plugin with its digest or hash.
    user.ok(&["lock", s(&pipeline)]);
    let lock_path = pipeline.with_extension("lock");
    let lock = std::fs::read_to_string(&lock_path).expect("the lock");
    assert!(lock.contains(&format!("oci = \"{features}\"")), "{lock}");
    assert!(
        lock.contains(&format!("digest = \"{pushed_digest}\"")),
        "{lock}"
    );
    assert!(lock.contains("path = \"classify.wasm\""), "{lock}");

    // The tag moves: --locked refuses; a plain run keeps to the lock's digest.
    user.ok(&["plugin", "push", artifacts::ZCR_RUST, &features]);
    let run = |out: &Path, flags: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["run", s(&pipeline), "--input", s(&wav), "--output", s(out)]
            .map(String::from)
            .to_vec();
        args.extend(flags.iter().map(|f| f.to_string()));
        args
    };
    let args = run(&user.path("moved.npy"), &["--locked"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    user.fails(
        &args,
        10,
        &[
            "the tag moved after locking",
            &pushed_digest,
            "sqrtspace lock",
        ],
    );
    assert!(!user.path("moved.npy").exists());
    let kept = user.path("kept.npy");
    let args = run(&kept, &[]);
    user.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(std::fs::read(&kept).ok(), std::fs::read(&local).ok());

    // Offline, with the registry gone: the lock's digests from the cache, the same bytes.
    drop(registry);
    let offline = user.path("offline.npy");
    let args = run(&offline, &["--locked", "--offline"]);
    user.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(std::fs::read(&offline).ok(), std::fs::read(&local).ok());
    // Online, the registry gone is named.
    let args = run(&user.path("down.npy"), &["--locked"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    user.fails(&args, 10, &["cannot reach the registry", addr]);

    // A local plugin that changed since locking is refused, online or not.
    std::fs::copy(
        artifacts::ZCR_RUST,
        pipeline.with_file_name("classify.wasm"),
    )
    .expect("copy");
    let args = run(&user.path("changed.npy"), &["--locked", "--offline"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    user.fails(
        &args,
        10,
        &["stage `classify`", "classify.wasm has sha256", "lock"],
    );

    // A reference the cache does not hold, offline.
    user.fails(
        &[
            "plugin",
            "pull",
            "--offline",
            &format!("{addr}/acme/other:1"),
        ],
        10,
        &["not in the plugin cache", "--offline"],
    );
}

#[test]
fn what_wkg_pushes_pulls_and_runs_and_every_registry_failure_is_named() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let user = User::new();
    let addr = &registry.addr;
    let component = std::fs::read(artifacts::FEATURES).expect("plugin");
    let wkg_digest = push_as_wkg_does(addr, "wkg/features", "0.1.0", &component);
    let out = user.ok(&[
        "plugin",
        "pull",
        &format!("oci://{addr}/wkg/features:0.1.0"),
    ]);
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(line.starts_with(&wkg_digest), "{line}");
    // By digest, from the cache, without asking the registry again.
    let by_digest = format!("oci://{addr}/wkg/features@{wkg_digest}");
    let out = user.ok(&["plugin", "pull", &by_digest]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 bytes fetched"));

    // A missing tag (the tags there are listed), a missing repository.
    user.fails(
        &["plugin", "pull", &format!("{addr}/wkg/features:9.9.9")],
        10,
        &["has no tag 9.9.9", "0.1.0"],
    );
    user.fails(
        &["plugin", "pull", &format!("{addr}/nobody/nothing:1")],
        10,
        &["has no repository nobody/nothing"],
    );
    // Artifacts that are not sqrtspace plugins: a core module, another contract version.
    push_as_wkg_does(addr, "wkg/module", "1", b"\0asm\x01\0\0\0");
    user.fails(
        &["plugin", "pull", &format!("{addr}/wkg/module:1")],
        6,
        &["not a sqrtspace plugin", "core Wasm module"],
    );
    let old = std::fs::read(artifacts::OLD_WIT).expect("plugin");
    push_as_wkg_does(addr, "wkg/old", "1", &old);
    user.fails(
        &["plugin", "pull", &format!("{addr}/wkg/old:1")],
        6,
        &["built against sqrtspace:pipeline@0.0.1"],
    );
    // A component larger than the cap (into a cache that does not hold it yet).
    User::new().fails(
        &[
            "plugin",
            "pull",
            "--max-plugin-size",
            "64 KiB",
            &format!("{addr}/wkg/features:0.1.0"),
        ],
        6,
        &["more than the limit of 65536", "--max-plugin-size"],
    );
    // Pushing what is not a plugin.
    user.fails(
        &[
            "plugin",
            "push",
            s(&crate::common::root().join("README.md")),
            &format!("{addr}/x/y:1"),
        ],
        6,
        &["cannot push", "not WebAssembly"],
    );
    user.fails(
        &[
            "plugin",
            "push",
            artifacts::OLD_WIT,
            &format!("{addr}/x/y:1"),
        ],
        6,
        &["cannot push", "sqrtspace:pipeline@0.0.1"],
    );
    // A registry that is not there.
    let nobody = format!("127.0.0.1:{}", free_port());
    user.fails(
        &["plugin", "pull", &format!("{nobody}/a/b:1")],
        10,
        &["cannot reach the registry", &nobody],
    );
    // Plain HTTP only to a registry named as this machine, or with --insecure. The same
    // server named by its address as one number (2130706433 is 127.0.0.1, which URLs
    // accept and this check does not take for loopback) gets TLS, which it does not speak.
    let port = addr.rsplit(':').next().unwrap_or_default();
    let numeric = format!("2130706433:{port}/wkg/features:0.1.0");
    user.fails(
        &["plugin", "pull", &numeric],
        10,
        &["cannot reach the registry 2130706433", "--insecure"],
    );
    user.ok(&["plugin", "pull", "--insecure", &numeric]);
}

/// A registry that misbehaves: serves `routes` (path → status, content type, body) to every
/// request, or never answers when `silent`.
fn fake_registry(routes: Vec<(String, u16, &'static str, Vec<u8>)>, silent: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            if silent {
                held.push(stream);
                continue;
            }
            let mut reader = BufReader::new(match stream.try_clone() {
                Ok(s) => s,
                Err(_) => continue,
            });
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            let (status, kind, body) = routes.iter().find(|(p, ..)| *p == path).map_or(
                (
                    404,
                    "application/json",
                    br#"{"errors":[{"code":"NAME_UNKNOWN","message":"no"}]}"#.to_vec(),
                ),
                |(_, s, k, b)| (*s, *k, b.clone()),
            );
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    addr
}

#[test]
fn a_registry_serving_wrong_bytes_or_nothing_is_refused_and_nothing_is_cached() {
    let user = User::new();
    let component = std::fs::read(artifacts::FEATURES).expect("plugin");
    let layer = digest(&component);
    let config = br#"{"architecture":"wasm","os":"wasip2","layerDigests":[]}"#.to_vec();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.wasm.config.v0+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/wasm","digest":"{layer}","size":{}}}]}}"#,
        digest(&config),
        config.len(),
        component.len()
    );
    let manifest_digest = digest(manifest.as_bytes());
    // The blob served under the component's digest is other bytes.
    let mut tampered = component.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let kind = "application/vnd.oci.image.manifest.v1+json";
    let addr = fake_registry(
        vec![
            ("/v2/".into(), 200, "application/json", b"{}".to_vec()),
            (
                "/v2/a/b/manifests/1".into(),
                200,
                kind,
                manifest.clone().into_bytes(),
            ),
            (
                format!("/v2/a/b/manifests/{manifest_digest}"),
                200,
                kind,
                manifest.clone().into_bytes(),
            ),
            // A manifest asked for by one digest that hashes to another.
            (
                format!("/v2/a/b/manifests/sha256:{}", "0".repeat(64)),
                200,
                kind,
                manifest.into_bytes(),
            ),
            (
                format!("/v2/a/b/blobs/{layer}"),
                200,
                "application/octet-stream",
                tampered,
            ),
        ],
        false,
    );
    user.fails(
        &["plugin", "pull", &format!("oci://{addr}/a/b:1")],
        10,
        &["does not match its digest", &layer, "nothing cached"],
    );
    user.fails(
        &[
            "plugin",
            "pull",
            &format!("oci://{addr}/a/b@sha256:{}", "0".repeat(64)),
        ],
        10,
        &["does not match its digest", "nothing cached"],
    );
    assert!(user.cached().is_empty(), "{:?}", user.cached());

    // A registry that accepts the connection and never answers: the timeout, named.
    let silent = fake_registry(Vec::new(), true);
    let started = Instant::now();
    user.fails(
        &[
            "plugin",
            "pull",
            "--registry-timeout",
            "1",
            &format!("{silent}/a/b:1"),
        ],
        10,
        &[&format!("the registry {silent} did not answer within 1 s")],
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn credentials_from_the_environment_or_the_docker_config_and_never_printed() {
    let Some(registry) = Registry::start(Some(("ci", "s3cret-pass"))) else {
        return;
    };
    let user = User::new();
    let target = format!("{}/acme/features:1", registry.addr);
    // Anonymous: refused, with how to log in.
    let err = user.fails(
        &["plugin", "push", artifacts::FEATURES, &target],
        10,
        &["refused access", "docker login"],
    );
    assert!(!err.contains("s3cret"));
    // Wrong password in the environment: refused, the password not repeated.
    let out = user
        .command(&["plugin", "push", artifacts::FEATURES, &target])
        .env("SQRTSPACE_REGISTRY_USER", "ci")
        .env("SQRTSPACE_REGISTRY_PASSWORD", "wrong-pass")
        .run()
        .expect("runs");
    assert_eq!(out.status.code(), Some(10));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wrong-pass"));
    // The right one in the environment pushes.
    let out = user
        .command(&["plugin", "push", artifacts::FEATURES, &target])
        .env("SQRTSPACE_REGISTRY_USER", "ci")
        .env("SQRTSPACE_REGISTRY_PASSWORD", "s3cret-pass")
        .run()
        .expect("runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    assert!(!printed.contains("s3cret"), "{printed}");
    // `docker login`'s config: the pull works with nothing in the environment.
    std::fs::create_dir_all(user.path("docker")).expect("mkdir");
    let auth = base64_encode(b"ci:s3cret-pass");
    std::fs::write(
        user.path("docker").join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.addr),
    )
    .expect("config");
    let out = user.ok(&["plugin", "pull", &target]);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !printed.contains("s3cret") && !printed.contains(&auth),
        "{printed}"
    );
}

/// Standard base64, as `docker login` writes `auth`.
fn base64_encode(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_is_what_docker_writes() {
    assert_eq!(base64_encode(b"ci:s3cret-pass"), "Y2k6czNjcmV0LXBhc3M=");
    assert_eq!(base64_encode(b"ab"), "YWI=");
    assert_eq!(base64_encode(b"abc"), "YWJj");
}
