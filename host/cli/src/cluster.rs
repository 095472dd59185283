//! Processes working together on timely-dataflow, and their supervision.
//!
//! Timely moves the work and the results; what it leaves to its users is forming the cluster
//! and surviving its faults: it retries a connection forever (printing to stdout) and panics
//! when a peer goes away, which would leave the other processes hanging or dying with a
//! backtrace. So the connections are made here, with a deadline and a handshake that refuses
//! a process of another run, and handed to timely; a lost peer becomes an error on every
//! other process within moments, and the process exits cleanly.
//!
//! The conventions are timely's: a hostfile of `host:port` lines in the order of the
//! processes, the number of processes, this process's index and worker threads per process.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use clap::Args;
use sha2::{Digest, Sha256};
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::communication::{Hooks, WorkerGuards};
use timely::worker::Worker;

/// Where this process sits in a cluster: timely's usual flags (spelled out, as `-h` is help).
#[derive(Clone, Debug, Args)]
pub struct ClusterArgs {
    /// A file of `host:port` lines, one per process in order (default: 127.0.0.1, ports
    /// from 2101).
    #[arg(long)]
    pub hostfile: Option<PathBuf>,
    /// How many processes the cluster has.
    #[arg(long, default_value_t = 1)]
    pub processes: usize,
    /// This process's index, from 0; process 0 keeps the manifest and prints the summary.
    #[arg(long, default_value_t = 0)]
    pub process: usize,
    /// Worker threads per process (the same on every process); each runs one input at a time.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Windows a segment, when one input is spread over the cluster: each worker computes
    /// whole segments of the pure prefix (the same on every process).
    #[arg(long, default_value_t = 4096)]
    pub segment_windows: u64,
    /// Seconds to wait for every other process to connect.
    #[arg(long, default_value_t = 60.0)]
    pub connect_timeout: f64,
}

/// A cluster that cannot form, or that lost a process.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The flags or the hostfile do not describe a cluster.
    #[error("{0}")]
    Usage(String),
    /// Timely could not start.
    #[error("{0}")]
    Config(String),
    /// This process cannot listen on its address.
    #[error("process {process} cannot listen on {address}: {source}")]
    Listen {
        process: usize,
        address: String,
        source: std::io::Error,
    },
    /// Some processes did not connect in time.
    #[error(
        "process {missing} did not connect within {secs} s (a cluster of {processes}): start it, \
         or check the hostfile and the network (--connect-timeout sets the wait)"
    )]
    Timeout {
        missing: String,
        processes: usize,
        secs: f64,
    },
    /// A process of another run, or of another shape of cluster, connected.
    #[error("process {process} at {address} {why}")]
    Mismatch {
        process: usize,
        address: String,
        why: String,
    },
    /// A process went away while the cluster ran.
    #[error(
        "lost {peer} of the cluster: {why}; the other processes stop too, and --resume goes \
         on from what was finished"
    )]
    Lost {
        /// `process 3 (host:port)`, or `a process` when the connection is not known.
        peer: String,
        why: String,
    },
    /// SIGINT or SIGTERM stopped this process.
    #[error("stopped by a signal")]
    Stopped,
    /// A worker thread panicked.
    #[error("a cluster worker panicked: {0}")]
    Panicked(String),
}

/// What a handshake says: "sqrtspace cluster", the protocol's version, the shape of the cluster,
/// the sender's index and a hash of what it runs.
const MAGIC: &[u8; 18] = b"sqrtspace-cluster\n";
const PROTOCOL: u64 = 1;
const HELLO_BYTES: usize = MAGIC.len() + 8 * 4 + 32;

/// What one process tells another when they connect.
#[derive(Debug, PartialEq)]
struct Hello {
    processes: u64,
    threads: u64,
    index: u64,
    run: [u8; 32],
}

impl Hello {
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HELLO_BYTES);
        bytes.extend_from_slice(MAGIC);
        for field in [PROTOCOL, self.processes, self.threads, self.index] {
            bytes.extend_from_slice(&field.to_be_bytes());
        }
        bytes.extend_from_slice(&self.run);
        bytes
    }

    /// Reads a hello; `None` for bytes that are not a sqrtspace process's.
    fn read(stream: &mut TcpStream) -> std::io::Result<Option<Hello>> {
        let mut bytes = [0u8; HELLO_BYTES];
        stream.read_exact(&mut bytes)?;
        let (magic, rest) = bytes.split_at(MAGIC.len());
        if magic != MAGIC {
            return Ok(None);
        }
        let field = |i: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&rest[i * 8..i * 8 + 8]);
            u64::from_be_bytes(word)
        };
        if field(0) != PROTOCOL {
            return Ok(None);
        }
        let mut run = [0u8; 32];
        run.copy_from_slice(&rest[32..]);
        Ok(Some(Hello {
            processes: field(1),
            threads: field(2),
            index: field(3),
            run,
        }))
    }

    /// Why `theirs` cannot work with `self`, if it cannot.
    fn disagreement(&self, theirs: &Hello) -> Option<String> {
        if theirs.processes != self.processes {
            return Some(format!(
                "was started for a cluster of {} processes, this one for {}",
                theirs.processes, self.processes
            ));
        }
        if theirs.threads != self.threads {
            return Some(format!(
                "runs {} threads, this one {}: every process needs the same --threads",
                theirs.threads, self.threads
            ));
        }
        if theirs.run != self.run {
            return Some(
                "runs another pipeline, other inputs or other options than this one".to_string(),
            );
        }
        None
    }
}

impl ClusterArgs {
    /// Every process's address, in order.
    pub fn addresses(&self) -> Result<Vec<String>, ClusterError> {
        if self.processes == 0 || self.threads == 0 {
            return Err(ClusterError::Usage(
                "--processes and --threads must be at least 1".to_string(),
            ));
        }
        if self.process >= self.processes {
            return Err(ClusterError::Usage(format!(
                "--process {} is not one of the {} processes (0 to {})",
                self.process,
                self.processes,
                self.processes - 1
            )));
        }
        if !(self.connect_timeout > 0.0 && self.connect_timeout.is_finite()) {
            return Err(ClusterError::Usage(
                "--connect-timeout must be a positive number of seconds".to_string(),
            ));
        }
        let Some(path) = &self.hostfile else {
            return Ok((0..self.processes)
                .map(|i| format!("127.0.0.1:{}", 2101 + i))
                .collect());
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            ClusterError::Usage(format!("cannot read the hostfile {}: {e}", path.display()))
        })?;
        let addresses: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(str::to_string)
            .collect();
        if addresses.len() < self.processes {
            return Err(ClusterError::Usage(format!(
                "the hostfile {} names {} processes, but --processes is {}",
                path.display(),
                addresses.len(),
                self.processes
            )));
        }
        Ok(addresses.into_iter().take(self.processes).collect())
    }
}

/// The hash of what a process runs, which every process of a cluster must share.
pub fn run_hash(parts: &[&str]) -> [u8; 32] {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().into()
}

/// Connects to every other process: to those before this one, which listen, and from those
/// after it; each connection starts with a [`Hello`] both ways. The sockets come back in the
/// order of the processes, `None` for this one.
fn connect(
    args: &ClusterArgs,
    addresses: &[String],
    run: [u8; 32],
) -> Result<Vec<Option<TcpStream>>, ClusterError> {
    let me = args.process;
    let ours = Hello {
        processes: args.processes as u64,
        threads: args.threads as u64,
        index: me as u64,
        run,
    };
    let deadline = Instant::now() + Duration::from_secs_f64(args.connect_timeout);
    let left = || deadline.saturating_duration_since(Instant::now());
    let mismatch = |process: usize, why: String| ClusterError::Mismatch {
        process,
        address: addresses[process].clone(),
        why,
    };
    // Listening first, so that later processes can connect while this one connects to the
    // earlier ones (a connection waits in the listener's backlog until it is accepted).
    let listener = if me + 1 < addresses.len() {
        let listener =
            TcpListener::bind(&addresses[me]).map_err(|source| ClusterError::Listen {
                process: me,
                address: addresses[me].clone(),
                source,
            })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| ClusterError::Listen {
                process: me,
                address: addresses[me].clone(),
                source,
            })?;
        Some(listener)
    } else {
        None
    };
    let mut sockets: Vec<Option<TcpStream>> = (0..addresses.len()).map(|_| None).collect();
    let timeout = |missing: Vec<usize>| ClusterError::Timeout {
        missing: missing
            .iter()
            .map(|i| format!("{i} ({})", addresses[*i]))
            .collect::<Vec<_>>()
            .join(", "),
        processes: addresses.len(),
        secs: args.connect_timeout,
    };
    for (index, address) in addresses.iter().enumerate().take(me) {
        let mut stream = loop {
            if left().is_zero() {
                return Err(timeout((index..me).collect()));
            }
            let attempt = address
                .to_socket_addrs()
                .map_err(|e| ClusterError::Usage(format!("cannot resolve {address}: {e}")))?
                .find_map(|addr| {
                    TcpStream::connect_timeout(&addr, left().min(Duration::from_secs(1))).ok()
                });
            match attempt {
                Some(stream) => break stream,
                None => std::thread::sleep(Duration::from_millis(50).min(left())),
            }
        };
        let theirs = handshake(&mut stream, &ours, left(), true)
            .map_err(|e| mismatch(index, format!("broke off the handshake: {e}")))?;
        match theirs {
            None => return Err(mismatch(index, "is not a sqrtspace process".to_string())),
            Some(theirs) if theirs.index != index as u64 => {
                return Err(mismatch(
                    index,
                    format!(
                        "says it is process {}: check the hostfile's order",
                        theirs.index
                    ),
                ));
            }
            Some(theirs) => {
                if let Some(why) = ours.disagreement(&theirs) {
                    return Err(mismatch(index, why));
                }
            }
        }
        sockets[index] = Some(stream);
    }
    if let Some(listener) = listener {
        while sockets[me + 1..].iter().any(Option::is_none) {
            let missing = || {
                (me + 1..addresses.len())
                    .filter(|i| sockets[*i].is_none())
                    .collect::<Vec<_>>()
            };
            if left().is_zero() {
                return Err(timeout(missing()));
            }
            let mut stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(source) => {
                    return Err(ClusterError::Listen {
                        process: me,
                        address: addresses[me].clone(),
                        source,
                    });
                }
            };
            let Ok(Some(theirs)) = handshake(&mut stream, &ours, left(), false) else {
                // Something else knocked (a port scanner, a health check): not a peer.
                continue;
            };
            let index = theirs.index as usize;
            if index <= me || index >= addresses.len() || sockets[index].is_some() {
                return Err(ClusterError::Usage(format!(
                    "a process connected as process {index}, which this one ({me}) does not \
                     expect: check --process on every machine"
                )));
            }
            if let Some(why) = ours.disagreement(&theirs) {
                return Err(mismatch(index, why));
            }
            sockets[index] = Some(stream);
        }
    }
    for stream in sockets.iter().flatten() {
        let settings = stream
            .set_read_timeout(None)
            .and_then(|_| stream.set_nodelay(true));
        if let Err(e) = settings {
            return Err(ClusterError::Config(format!(
                "setting up a connection: {e}"
            )));
        }
    }
    Ok(sockets)
}

/// Says hello and reads the other side's (the connecting side speaks first).
fn handshake(
    stream: &mut TcpStream,
    ours: &Hello,
    left: Duration,
    first: bool,
) -> std::io::Result<Option<Hello>> {
    stream.set_nonblocking(false)?;
    // A peer says hello at once; something else that connects and says nothing is not let
    // hold up the rest.
    let wait = left.clamp(Duration::from_millis(10), Duration::from_secs(10));
    stream.set_read_timeout(Some(wait))?;
    if first {
        stream.write_all(&ours.to_bytes())?;
    }
    let theirs = Hello::read(stream)?;
    if !first && theirs.is_some() {
        stream.write_all(&ours.to_bytes())?;
    }
    Ok(theirs)
}

/// The first fault a timely thread of this process met: which process was lost, and why.
static FAULT: OnceLock<(Option<usize>, String)> = OnceLock::new();

/// Turns timely's panics on a lost connection into a recorded fault (and no backtrace on
/// stderr); other panics are reported as before.
fn watch_for_faults() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or_default();
            let text = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            if name.starts_with("timely:recv-") || name.starts_with("timely:send-") {
                // `timely:recv-3`, `timely:send-3`: the connection to process 3.
                let peer = name.rsplit_once('-').and_then(|(_, n)| n.parse().ok());
                let why = text
                    .strip_prefix("timely communication error: ")
                    .unwrap_or(&text)
                    .to_string();
                let _ = FAULT.set((peer, why));
                return;
            }
            let guard =
                text.starts_with("Send thread panic") || text.starts_with("Recv thread panic");
            if (name.starts_with("timely:work-") || guard) && FAULT.get().is_some() {
                // A worker that met the poisoned channel of a lost connection.
                return;
            }
            previous(info);
        }));
    });
}

/// How long work in flight gets to stop after a fault, before the process exits anyway.
const GRACE: Duration = Duration::from_secs(5);

/// Runs `work` on every worker thread of this process, in the cluster `args` describes, and
/// returns what each returned. Every process must pass the same `run` hash. `quiet` says
/// whether the work this process started outside timely's threads has stopped: after a fault
/// (or a signal) it gets a few seconds to, and then the cluster is left behind, its threads
/// still blocked, for the process to exit.
pub fn execute<T, F>(
    args: &ClusterArgs,
    run: [u8; 32],
    quiet: impl Fn() -> bool,
    work: F,
) -> Result<Vec<T>, ClusterError>
where
    T: Send + 'static,
    F: Fn(&mut Worker) -> T + Send + Sync + 'static,
{
    let addresses = args.addresses()?;
    watch_for_faults();
    let (builders, others): (Vec<AllocatorBuilder>, Box<dyn std::any::Any + Send>) = if args
        .processes
        == 1
    {
        timely::CommunicationConfig::Process(args.threads)
            .try_build()
            .map_err(ClusterError::Config)?
    } else {
        let sockets = connect(args, &addresses, run)?;
        let hooks = Hooks::default();
        let process = ProcessBuilder::new_typed_vector(args.threads, hooks.refill.clone(), None);
        let (builders, guard) =
            initialize_networking_from_sockets(process, sockets, args.process, args.threads, hooks)
                .map_err(|e| {
                    ClusterError::Config(format!("starting timely's network threads: {e}"))
                })?;
        (
            builders.into_iter().map(AllocatorBuilder::Tcp).collect(),
            Box::new(guard),
        )
    };
    let (done, results) = mpsc::channel();
    let done = Mutex::new(done);
    // The worker threads, to wake those parked waiting for progress when the run must stop.
    let threads: Arc<Mutex<Vec<std::thread::Thread>>> = Arc::default();
    let registry = Arc::clone(&threads);
    let started = timely::execute::execute_from(
        builders,
        others,
        timely::WorkerConfig::default(),
        move |worker| {
            registry
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(std::thread::current());
            let index = worker.index();
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(worker)));
            let _ = done
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .send((index, result.is_ok()));
            result
        },
    )
    .map_err(ClusterError::Config)?;
    let stop = sqrtspace::exec::stop_flag();
    let mut finished = 0;
    let mut faulted: Option<Instant> = None;
    let lost = || {
        FAULT.get().map(|(peer, why)| ClusterError::Lost {
            peer: match peer.and_then(|p| addresses.get(p).map(|a| (p, a))) {
                Some((p, address)) => format!("process {p} ({address})"),
                None => "a process".to_string(),
            },
            why: why.clone(),
        })
    };
    while finished < args.threads {
        match results.recv_timeout(Duration::from_millis(50)) {
            Ok((_, ok)) => {
                finished += 1;
                if !ok && FAULT.get().is_none() {
                    leave(started);
                    return Err(ClusterError::Panicked("see its message above".to_string()));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if FAULT.get().is_some() || stop.load(Ordering::Relaxed) {
            // Work in flight stops at its next stage call and removes what it was writing; a
            // worker parked until progress is woken to notice.
            stop.store(true, Ordering::Relaxed);
            for thread in threads.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                thread.unpark();
            }
            let since = *faulted.get_or_insert_with(Instant::now);
            if quiet() || since.elapsed() > GRACE {
                leave(started);
                return Err(lost().unwrap_or(ClusterError::Stopped));
            }
        }
    }
    if FAULT.get().is_some() {
        stop.store(true, Ordering::Relaxed);
        let since = Instant::now();
        while !quiet() && since.elapsed() < GRACE {
            std::thread::sleep(Duration::from_millis(20));
        }
        leave(started);
        return Err(lost().unwrap_or(ClusterError::Stopped));
    }
    // Joining drops timely's network threads' guard, which panics when one of them did (a
    // peer that went away after the last result): that is the fault, not a crash.
    let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| started.join()));
    let Ok(joined) = joined else {
        return Err(lost()
            .unwrap_or_else(|| ClusterError::Panicked("timely's network threads".to_string())));
    };
    let mut values = Vec::with_capacity(joined.len());
    for result in joined {
        match result {
            Ok(Ok(value)) => values.push(value),
            Ok(Err(_)) | Err(_) => {
                return Err(lost().unwrap_or_else(|| {
                    ClusterError::Panicked("a worker thread panicked".to_string())
                }));
            }
        }
    }
    Ok(values)
}

/// Leaves timely's threads behind: joining them would wait for peers that are gone.
fn leave<T: Send + 'static>(guards: WorkerGuards<T>) {
    std::mem::forget(guards);
}

/// Free ports on the loopback interface for `n` processes (bound and released: another
/// program could take one in between, which the cluster then reports as it forms).
pub fn loopback_addresses(n: usize) -> std::io::Result<Vec<String>> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hellos_round_trip_and_disagree_by_field() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let ours = Hello {
            processes: 3,
            threads: 2,
            index: 1,
            run: [7; 32],
        };
        let sent = ours.to_bytes();
        let writer = std::thread::spawn(move || {
            let mut stream = TcpStream::connect(address).expect("connect");
            stream.write_all(&sent).expect("write");
        });
        let (mut stream, _) = listener.accept().expect("accept");
        let theirs = Hello::read(&mut stream).expect("read").expect("a hello");
        writer.join().expect("writer");
        assert_eq!(theirs, ours);
        assert_eq!(ours.disagreement(&theirs), None);
        let other = Hello {
            threads: 4,
            ..theirs
        };
        assert!(
            ours.disagreement(&other)
                .is_some_and(|why| why.contains("--threads"))
        );
        let other = Hello {
            run: [8; 32],
            processes: 3,
            threads: 2,
            index: 1,
        };
        assert!(
            ours.disagreement(&other)
                .is_some_and(|why| why.contains("another pipeline"))
        );
    }
}
