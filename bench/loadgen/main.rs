//! passlink's load generator: keeps a fixed number of requests in flight over HTTP/2 (h2c)
//! against a running passlink, each to a target user picked from a list (uniformly, or always
//! the first), in one of four protocols or the `grpc.health.v1` baseline, all from the same
//! client code. It prints one JSON object: successes and errors (judged by the answer's status
//! and body), requests per second and latencies (HDR histogram) over the measured window, and,
//! given passlink's pid, the process's CPU time per request (`/proc/PID/stat`) and its peak RSS.
//!
//! With `--sign-in` (gRPC only) each request is instead a passkey sign-in, CreateSession then
//! SetSession with a real assertion (`sign_in.rs`), as the users of `bulkload --passkeys`; the
//! latency is the pair's.
//!
//! Every answer is awaited before the generator exits, so `ok_total` (warm-up and the tail
//! included) is exactly how many codes a create-link run must have added to the database, or
//! how many sessions a sign-in run must have checked; `bench/run` checks that.
//!
//! Usage: `loadgen --url http://127.0.0.1:PORT --protocol grpc --users users.txt
//! --token-file admin.pat [--sign-in [--origin http://localhost:PORT]] [--pick uniform|one]
//! [--in-flight 64] [--connections 4] [--duration 10] [--warm-up 1] [--pid PID]`

#[path = "../passkeys.rs"]
mod passkeys;
mod protocol;
mod server_process;
mod sign_in;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use tokio::net::TcpStream;

use protocol::{Prepared, Protocol};
use sign_in::{SignInUser, SignInWorker};

/// How target users are picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Pick {
    /// Each request picks one of the users uniformly at random.
    Uniform,
    /// Every request targets the first user.
    One,
}

#[derive(clap::Parser, Debug)]
#[command(about = "passlink's load generator (see bench/run)")]
struct Arguments {
    /// The server, `http://HOST:PORT` (h2c).
    #[arg(long)]
    url: String,
    #[arg(long, value_enum)]
    protocol: Protocol,
    /// A file with one user id per line.
    #[arg(long)]
    users: Option<PathBuf>,
    /// A single user id (instead of --users).
    #[arg(long)]
    user: Option<String>,
    #[arg(long, value_enum, default_value = "uniform")]
    pick: Pick,
    /// The bearer token's file.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Requests in flight at any time.
    #[arg(long, default_value_t = 64)]
    in_flight: usize,
    /// HTTP/2 connections the requests are spread over.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before the measured window.
    #[arg(long, default_value_t = 1.0)]
    warm_up: f64,
    /// passlink's process id: its CPU time and peak RSS over the measured window are reported.
    #[arg(long)]
    pid: Option<u32>,
    /// Each request is a passkey sign-in (CreateSession + SetSession) instead of one RPC.
    #[arg(long)]
    sign_in: bool,
    /// The origin of the sign-ins' client data; by default passlink's default external URL,
    /// `http://localhost:PORT` with the port of --url.
    #[arg(long)]
    origin: Option<String>,
}

/// What a worker sends, over and over.
enum Work {
    /// One request of `protocol` to a user picked from `users`.
    Requests {
        protocol: Protocol,
        users: std::rc::Rc<Vec<String>>,
    },
    /// A sign-in as one of the worker's own users.
    SignIns(SignInWorker),
}

/// What one worker saw.
struct WorkerReport {
    histogram: Histogram<u64>,
    measured_ok: u64,
    measured_errors: u64,
    ok_total: u64,
    errors_total: u64,
    error_samples: Vec<String>,
}

/// The phases of a run, shared by every worker.
#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    measure_until: Instant,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments = <Arguments as clap::Parser>::parse();
    // One thread, like h2load -t 1: the generator shares the machine with passlink.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(arguments))?;
    println!("{report}");
    Ok(())
}

async fn run(arguments: Arguments) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let mut users: Vec<String> = match (&arguments.users, &arguments.user) {
        (Some(path), _) => std::fs::read_to_string(path)?
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect(),
        (None, Some(user)) => vec![user.clone()],
        (None, None) => vec![String::new()],
    };
    if users.is_empty() {
        return Err("no users".into());
    }
    if arguments.pick == Pick::One {
        users.truncate(1);
    }
    let token = match &arguments.token_file {
        Some(path) => Some(std::fs::read_to_string(path)?.trim().to_owned()),
        None => None,
    };
    if (arguments.protocol.authenticated() || arguments.sign_in) && token.is_none() {
        return Err("this protocol needs --token-file".into());
    }
    if arguments.sign_in && arguments.protocol != Protocol::Grpc {
        return Err("--sign-in runs over --protocol grpc only".into());
    }
    if arguments.sign_in && arguments.pick != Pick::Uniform {
        return Err("--sign-in picks uniformly among each worker's own users".into());
    }
    let authority = arguments
        .url
        .strip_prefix("http://")
        .ok_or("--url must be http://HOST:PORT")?
        .trim_end_matches('/')
        .to_owned();
    let mut sign_in_workers = if arguments.sign_in {
        let port = authority
            .rsplit_once(':')
            .map(|(_, port)| port)
            .ok_or("--url has no port")?;
        let origin = arguments
            .origin
            .clone()
            .unwrap_or_else(|| format!("http://{}:{port}", passkeys::RP_ID));
        deal_sign_in_users(&users, arguments.in_flight, &origin)?
    } else {
        Vec::new()
    };
    // Each request's body is encoded when it is sent (well under a microsecond), so that a
    // million users cost only their ids.
    let users: std::rc::Rc<Vec<String>> = std::rc::Rc::new(users);
    let authorization = token.map(|token| format!("Bearer {token}"));

    let mut senders = Vec::new();
    for _ in 0..arguments.connections.max(1) {
        let stream = TcpStream::connect(&authority).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = h2::client::Builder::new()
            .initial_window_size(1 << 20)
            .initial_connection_window_size(1 << 24)
            .handshake::<_, Bytes>(stream)
            .await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                eprintln!("loadgen: connection ended: {error}");
            }
        });
        senders.push(sender);
    }

    let started = Instant::now();
    let measure_from = started + Duration::from_secs_f64(arguments.warm_up);
    let window = Window {
        measure_from,
        measure_until: measure_from + Duration::from_secs_f64(arguments.duration),
    };
    let local = tokio::task::LocalSet::new();
    let mut workers = Vec::new();
    for index in 0..arguments.in_flight {
        let sender = senders[index % senders.len()].clone();
        let work = match sign_in_workers.pop() {
            Some(sign_ins) => Work::SignIns(sign_ins),
            None => Work::Requests {
                protocol: arguments.protocol,
                users: users.clone(),
            },
        };
        let pick = arguments.pick;
        let authority = authority.clone();
        let authorization = authorization.clone();
        let seed = 0x9E37_79B9_7F4A_7C15_u64 ^ ((index as u64 + 1) << 17);
        workers.push(local.spawn_local(async move {
            worker(sender, work, pick, authority, authorization, window, seed).await
        }));
    }
    let pid = arguments.pid;
    let (server_before, server_after, generator_before, generator_after, peak_rss) = local
        .run_until(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            if let Some(pid) = pid {
                server_process::reset_peak_rss(pid);
            }
            let server_before = pid.and_then(server_process::cpu_seconds);
            let generator_before = server_process::cpu_seconds(std::process::id());
            tokio::time::sleep_until(window.measure_until.into()).await;
            let server_after = pid.and_then(server_process::cpu_seconds);
            let generator_after = server_process::cpu_seconds(std::process::id());
            let peak_rss = pid.and_then(|pid| server_process::status_kib(pid, "VmHWM"));
            (
                server_before,
                server_after,
                generator_before,
                generator_after,
                peak_rss,
            )
        })
        .await;
    let mut reports = Vec::new();
    for worker in workers {
        reports.push(local.run_until(worker).await?);
    }
    let mut histogram = Histogram::<u64>::new(3)?;
    let (mut measured_ok, mut measured_errors, mut ok_total, mut errors_total) = (0, 0, 0, 0);
    let mut error_samples: Vec<String> = Vec::new();
    for report in reports {
        histogram.add(&report.histogram)?;
        measured_ok += report.measured_ok;
        measured_errors += report.measured_errors;
        ok_total += report.ok_total;
        errors_total += report.errors_total;
        for sample in report.error_samples {
            if error_samples.len() < 5 && !error_samples.contains(&sample) {
                error_samples.push(sample);
            }
        }
    }
    let seconds = arguments.duration;
    let millis = |micros: u64| micros as f64 / 1000.0;
    let cpu = match (server_before, server_after) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    let generator_cpu = match (generator_before, generator_after) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    let done = measured_ok + measured_errors;
    Ok(serde_json::json!({
        "protocol": format!("{:?}", arguments.protocol),
        "sign_in": arguments.sign_in,
        "users": users.len(),
        "pick": format!("{:?}", arguments.pick),
        "in_flight": arguments.in_flight,
        "connections": arguments.connections,
        "seconds": seconds,
        "measured_ok": measured_ok,
        "measured_errors": measured_errors,
        "rps": measured_ok as f64 / seconds,
        "p50_ms": millis(histogram.value_at_quantile(0.50)),
        "p90_ms": millis(histogram.value_at_quantile(0.90)),
        "p99_ms": millis(histogram.value_at_quantile(0.99)),
        "max_ms": millis(histogram.max()),
        "ok_total": ok_total,
        "errors_total": errors_total,
        "error_samples": error_samples,
        "creates_codes": arguments.protocol.creates_codes() && !arguments.sign_in,
        "server_cpu_seconds": cpu,
        "server_cpu_us_per_request": cpu.filter(|_| done > 0).map(|cpu| cpu * 1e6 / done as f64),
        "server_peak_rss_kib": peak_rss,
        "generator_cpu_seconds": generator_cpu,
    }))
}

/// Deals the users out among `in_flight` workers (user `i` to worker `i % in_flight`), so that
/// no user signs in twice at once, and derives their passkeys. Each user's first sign counter
/// is the time in seconds since the Unix epoch.
fn deal_sign_in_users(
    users: &[String],
    in_flight: usize,
    origin: &str,
) -> Result<Vec<SignInWorker>, Box<dyn std::error::Error>> {
    if users.len() < in_flight {
        return Err(format!(
            "--sign-in needs at least as many users as requests in flight ({} < {in_flight})",
            users.len()
        )
        .into());
    }
    let first_sign_count = u32::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?;
    let mut dealt: Vec<Vec<SignInUser>> = (0..in_flight).map(|_| Vec::new()).collect();
    for (index, user_id) in users.iter().enumerate() {
        dealt[index % in_flight].push(SignInUser::new(user_id, first_sign_count)?);
    }
    Ok(dealt
        .into_iter()
        .map(|users| SignInWorker::new(users, origin.to_owned()))
        .collect())
}

/// Picks the index of the next target among `count` users.
fn pick_index(pick: Pick, count: usize, seed: &mut u64) -> usize {
    match pick {
        Pick::One => 0,
        Pick::Uniform => {
            // xorshift64*: cheap, and enough to spread requests over the users.
            *seed ^= *seed >> 12;
            *seed ^= *seed << 25;
            *seed ^= *seed >> 27;
            (seed.wrapping_mul(0x2545_F491_4F6C_DD1D) % count as u64) as usize
        }
    }
}

/// One request (or sign-in) at a time, over and over until the window closes.
async fn worker(
    sender: h2::client::SendRequest<Bytes>,
    mut work: Work,
    pick: Pick,
    authority: String,
    authorization: Option<String>,
    window: Window,
    mut seed: u64,
) -> WorkerReport {
    let mut report = WorkerReport {
        histogram: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
        measured_ok: 0,
        measured_errors: 0,
        ok_total: 0,
        errors_total: 0,
        error_samples: Vec::new(),
    };
    loop {
        let sent = Instant::now();
        if sent >= window.measure_until {
            return report;
        }
        let outcome = match &mut work {
            Work::Requests { protocol, users } => {
                let request = protocol.prepare(&users[pick_index(pick, users.len(), &mut seed)]);
                exchange(
                    sender.clone(),
                    *protocol,
                    &request,
                    &authority,
                    authorization.as_deref(),
                )
                .await
            }
            Work::SignIns(sign_ins) => {
                let index = pick_index(pick, sign_ins.user_count(), &mut seed);
                sign_ins
                    .sign_in(index, &sender, &authority, authorization.as_deref())
                    .await
            }
        };
        let answered = Instant::now();
        let measured = sent >= window.measure_from && answered <= window.measure_until;
        match outcome {
            Ok(()) => {
                report.ok_total += 1;
                if measured {
                    report.measured_ok += 1;
                    let micros = answered.duration_since(sent).as_micros() as u64;
                    report.histogram.saturating_record(micros.max(1));
                }
            }
            Err(error) => {
                report.errors_total += 1;
                if measured {
                    report.measured_errors += 1;
                }
                if report.error_samples.len() < 3 {
                    report.error_samples.push(error);
                }
                // A broken connection must not spin.
                tokio::task::yield_now().await;
            }
        }
    }
}

/// Sends one request and judges its answer.
async fn exchange(
    sender: h2::client::SendRequest<Bytes>,
    protocol: Protocol,
    prepared: &Prepared,
    authority: &str,
    authorization: Option<&str>,
) -> Result<(), String> {
    let answer = send(
        sender,
        protocol,
        &prepared.path,
        prepared.body.clone(),
        authority,
        authorization,
    )
    .await?;
    protocol.judge(
        answer.status,
        &answer.headers,
        &answer.body,
        answer.trailers.as_ref(),
    )
}

/// An answer as it came back.
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
    trailers: Option<http::HeaderMap>,
}

/// Posts `body` to `path` with `protocol`'s headers and reads the whole answer.
async fn send(
    sender: h2::client::SendRequest<Bytes>,
    protocol: Protocol,
    path: &str,
    body: Bytes,
    authority: &str,
    authorization: Option<&str>,
) -> Result<Answer, String> {
    let mut request = http::Request::post(format!("http://{authority}{path}"));
    for (name, value) in protocol.headers() {
        request = request.header(*name, *value);
    }
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let request = request.body(()).map_err(|error| error.to_string())?;
    let mut sender = sender.ready().await.map_err(|error| error.to_string())?;
    let (answer, mut body_sender) = sender
        .send_request(request, false)
        .map_err(|error| error.to_string())?;
    body_sender
        .send_data(body, true)
        .map_err(|error| error.to_string())?;
    let answer = answer.await.map_err(|error| error.to_string())?;
    let (parts, mut body) = answer.into_parts();
    let mut collected = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|error| error.to_string())?;
        let _ = body.flow_control().release_capacity(chunk.len());
        collected.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await.map_err(|error| error.to_string())?;
    Ok(Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: collected,
        trailers,
    })
}
