//! Unit tests of the trace source and the output mirror together, as the replayer host drives
//! them (no wasmtime involved).

use super::divergence::MAX_DECODED_BYTES;
use super::host::ReplayerHost;
use super::*;
use recorder_host::trace::{Compression, Entry, Header, TraceReader, TraceWriter, FORMAT_VERSION};
use recorder_host::types::{FuncKind, FunctionInfo, InterfaceInfo, ResourceRef, ValueType};
use std::io::Cursor;

fn resource(interface: &str, name: &str) -> ResourceRef {
    ResourceRef {
        interface: Some(interface.into()),
        name: name.into(),
    }
}

const STREAMS: &str = "wasi:io/streams@0.2.12";

fn func(name: &str, params: Vec<(&str, ValueType)>, result: Option<ValueType>) -> FunctionInfo {
    FunctionInfo {
        name: name.into(),
        kind: FuncKind::Freestanding,
        params: params
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect(),
        result,
    }
}

fn iface(name: &str, functions: Vec<FunctionInfo>) -> InterfaceInfo {
    InterfaceInfo {
        name: name.into(),
        package: None,
        interface: None,
        version: None,
        resources: Vec::new(),
        functions,
    }
}

// Function ids in the test component.
const GET_STDOUT: u32 = 0;
const GET_STDERR: u32 = 1;
const WRITE: u32 = 2;
const WRITE_AND_FLUSH: u32 = 3;
const RANDOM: u32 = 4;
const WRITE_VIA_STREAM: u32 = 5;
const EXIT: u32 = 6;

/// A WASI-like component: the real names and types of the functions replay looks at.
fn info() -> ComponentInfo {
    let stream = || ValueType::Own(resource(STREAMS, "output-stream"));
    let write_params = || {
        vec![
            (
                "self",
                ValueType::Borrow(resource(STREAMS, "output-stream")),
            ),
            ("contents", ValueType::List(Box::new(ValueType::U8))),
        ]
    };
    let stream_error = ValueType::Variant {
        name: Some("stream-error".into()),
        cases: vec![
            (
                "last-operation-failed".into(),
                Some(ValueType::Own(resource(STREAMS, "error"))),
            ),
            ("closed".into(), None),
        ],
    };
    let write_result = Some(ValueType::Result {
        ok: None,
        err: Some(Box::new(stream_error)),
    });
    ComponentInfo {
        imported_interfaces: vec![
            iface(
                "wasi:cli/stdout@0.2.12",
                vec![func("get-stdout", vec![], Some(stream()))],
            ),
            iface(
                "wasi:cli/stderr@0.2.12",
                vec![func("get-stderr", vec![], Some(stream()))],
            ),
            iface(
                STREAMS,
                vec![
                    func(
                        "[method]output-stream.write",
                        write_params(),
                        write_result.clone(),
                    ),
                    func(
                        "[method]output-stream.blocking-write-and-flush",
                        write_params(),
                        write_result,
                    ),
                ],
            ),
            iface(
                "wasi:random/random@0.2.12",
                vec![func(
                    "get-random-bytes",
                    vec![("len", ValueType::U64)],
                    Some(ValueType::List(Box::new(ValueType::U8))),
                )],
            ),
            iface(
                "wasi:filesystem/types@0.2.12",
                vec![func(
                    "[method]descriptor.write-via-stream",
                    vec![
                        (
                            "self",
                            ValueType::Borrow(resource(
                                "wasi:filesystem/types@0.2.12",
                                "descriptor",
                            )),
                        ),
                        ("offset", ValueType::U64),
                    ],
                    Some(ValueType::Result {
                        ok: Some(Box::new(stream())),
                        err: Some(Box::new(ValueType::Enum {
                            name: Some("error-code".into()),
                            cases: vec!["access".into(), "io".into()],
                        })),
                    }),
                )],
            ),
            iface(
                "wasi:cli/exit@0.2.12",
                vec![func(
                    "exit",
                    vec![(
                        "status",
                        ValueType::Result {
                            ok: None,
                            err: None,
                        },
                    )],
                    None,
                )],
            ),
        ],
        ..ComponentInfo::default()
    }
}

fn header() -> Header {
    Header {
        format_version: FORMAT_VERSION,
        proxyrt_version: "test".into(),
        component_sha256: [0; 32],
        interface_sha256: [0; 32],
        component: info().into(),
        argv: vec!["app".into()],
        request: None,
    }
}

/// A trace of `entries`, with the end marker if `complete`.
fn trace(entries: &[Entry], complete: bool) -> Vec<u8> {
    trace_with(entries, complete, Compression::default())
}

/// [`trace`] with its blocks stored as `compression` says.
fn trace_with(entries: &[Entry], complete: bool, compression: Compression) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut w = TraceWriter::new(&mut bytes, &header())
        .expect("header")
        .with_compression(compression);
    for e in entries {
        w.append(e).expect("entry");
    }
    if complete {
        w.finish().expect("end");
    } else {
        w.flush().expect("flush");
        drop(w);
    }
    bytes
}

fn call(func: u32, args: &[u8]) -> Entry {
    Entry::Call {
        func,
        args: args.to_vec(),
    }
}

fn ret(results: &[u8]) -> Entry {
    Entry::Return {
        results: results.to_vec(),
    }
}

/// `write`'s arguments: the stream id and the bytes (ids and lengths below 128: one byte).
fn write_args(id: u8, bytes: &[u8]) -> Vec<u8> {
    let mut args = vec![id, bytes.len() as u8];
    args.extend_from_slice(bytes);
    args
}

/// The replayer host of a replay of `bytes`, capturing the guest's output.
fn replayer(bytes: &[u8]) -> Harness {
    let reader = TraceReader::new(Cursor::new(bytes.to_vec())).expect("a readable header");
    let source = TraceSource::new(reader, "t.bin");
    Harness(ReplayerHost::new(
        Box::new(source),
        OutputMirror::new(&info(), Output::Capture),
    ))
}

/// A replayer host, called as the replay driver and the proxy call it.
struct Harness(ReplayerHost);

impl Harness {
    fn call(&mut self, func: u32, args: &[u8]) -> Result<Vec<u8>, Stop> {
        self.0.answer(func, args)
    }

    fn finish(&mut self, finish: &Finish) -> Result<(), Stop> {
        self.0.source().finish(finish)
    }

    /// The captured stdout and stderr, as text.
    fn output(self) -> (String, String) {
        let (out, err) = self.0.into_output().into_captured();
        let text = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8");
        (text(out), text(err))
    }
}

fn divergence(stop: Stop) -> Divergence {
    match stop {
        Stop::Divergence(d) => *d,
        other => panic!("expected a divergence, got {other:?}"),
    }
}

fn trace_error(stop: Stop) -> String {
    match stop {
        Stop::Unreadable(e) => format!("{e:#}"),
        other => panic!("expected a trace error, got {other:?}"),
    }
}

/// A run that prints to stdout and stderr and reads random bytes.
fn printing_run() -> (Vec<Entry>, Vec<(u32, Vec<u8>)>) {
    let script = vec![
        (GET_STDOUT, vec![]),
        (WRITE, write_args(1, b"hi\n")),
        (GET_STDERR, vec![]),
        (WRITE_AND_FLUSH, write_args(2, b"oops\n")),
        (RANDOM, vec![4]),
        (WRITE, write_args(1, b"bye\n")),
    ];
    let results: [&[u8]; 6] = [&[1], &[0], &[2], &[0], &[4, 9, 8, 7, 6], &[0]];
    let mut entries = Vec::new();
    for ((f, args), results) in script.iter().zip(results) {
        entries.push(call(*f, args));
        entries.push(ret(results));
    }
    entries.push(Entry::Exit { code: 0 });
    (entries, script)
}

#[test]
fn matching_calls_get_the_recorded_results_and_output_is_shown() {
    let (entries, script) = printing_run();
    let bytes = trace(&entries, true);
    let mut r = replayer(&bytes);
    let mut results = Vec::new();
    for (f, args) in &script {
        results.push(r.call(*f, args).expect("matches the trace"));
    }
    assert_eq!(results[4], [4, 9, 8, 7, 6]);
    assert_eq!(results[0], [1]);
    r.finish(&Finish::Returned(0)).expect("ends as recorded");
    assert_eq!(r.0.counts().0, script.len() as u64);
    assert_eq!(r.output(), ("hi\nbye\n".to_string(), "oops\n".to_string()));
    // The source read every entry.
    let mut source = TraceSource::new(TraceReader::new(&bytes[..]).expect("header"), "t");
    for (f, args) in &script {
        source.call(*f, args).expect("matches the trace");
    }
    source
        .finish(&Finish::Returned(0))
        .expect("ends as recorded");
    assert_eq!(source.position(), entries.len() as u64);
}

#[test]
fn quiet_replays_show_nothing() {
    let (entries, script) = printing_run();
    let bytes = trace(&entries, true);
    let reader = TraceReader::new(Cursor::new(bytes)).expect("header");
    let mut r = Harness(ReplayerHost::new(
        Box::new(TraceSource::new(reader, "t")),
        OutputMirror::new(&info(), Output::Discard),
    ));
    for (f, args) in &script {
        r.call(*f, args).expect("matches the trace");
    }
    r.finish(&Finish::Returned(0)).expect("ends as recorded");
    assert_eq!(r.output(), (String::new(), String::new()));
}

#[test]
fn failed_writes_and_writes_to_other_streams_are_not_shown() {
    let entries = [
        call(GET_STDOUT, &[]),
        ret(&[1]),
        // The write failed when recorded (err(closed)): nothing was printed then.
        call(WRITE, &write_args(1, b"lost")),
        ret(&[1, 1]),
        // A file stream that reuses id 1 after the stdout stream was dropped.
        call(WRITE_VIA_STREAM, &[3, 0]),
        ret(&[0, 1]),
        call(WRITE, &write_args(1, b"file")),
        ret(&[0]),
        // A stream id never returned by get-stdout.
        call(WRITE, &write_args(7, b"other")),
        ret(&[0]),
        Entry::Exit { code: 0 },
    ];
    let bytes = trace(&entries, true);
    let mut r = replayer(&bytes);
    for e in entries.iter() {
        if let Entry::Call { func, args } = e {
            r.call(*func, args).expect("matches");
        }
    }
    r.finish(&Finish::Returned(0)).expect("ends as recorded");
    assert_eq!(r.output(), (String::new(), String::new()));
}

#[test]
fn other_arguments_are_a_divergence_with_both_calls_in_wave() {
    let bytes = trace(
        &[
            call(GET_STDOUT, &[]),
            ret(&[1]),
            call(RANDOM, &[8]),
            ret(&[0]),
        ],
        true,
    );
    let mut r = replayer(&bytes);
    r.call(GET_STDOUT, &[]).expect("matches");
    let d = divergence(r.call(RANDOM, &[16]).expect_err("diverges"));
    assert_eq!(d.entry, 2);
    assert_eq!(d.expected, "wasi:random/random@0.2.12.get-random-bytes(8)");
    assert_eq!(d.actual, "wasi:random/random@0.2.12.get-random-bytes(16)");
    let text = d.to_string();
    assert!(text.contains("entry #2"), "{text}");
    assert_eq!(
        d.detail.as_deref(),
        Some("(differs in len: 8 recorded, 16 now; encoded arguments: 1 bytes recorded, 1 now)")
    );
    // The calls before it, as `trace show` prints them, handles named.
    assert_eq!(
        d.before,
        [
            "#0 wasi:cli/stdout@0.2.12.get-stdout()",
            "#1   -> 1 (stdout)"
        ]
    );
}

#[test]
fn writes_are_shown_as_text_on_named_streams_with_what_differs() {
    let mut recorded = vec![1, 9];
    recorded.extend_from_slice(b"sha=5cd6\n");
    let bytes = trace(
        &[
            call(GET_STDOUT, &[]),
            ret(&[1]),
            call(WRITE, &recorded),
            ret(&[0]),
        ],
        true,
    );
    let mut r = replayer(&bytes);
    r.call(GET_STDOUT, &[]).expect("matches");
    let mut now = vec![1, 20];
    now.extend_from_slice(b"an extra line in v2\n");
    let d = divergence(r.call(WRITE, &now).expect_err("diverges"));
    assert_eq!(
        d.expected,
        r#"wasi:io/streams@0.2.12.[method]output-stream.write(1 (stdout), "sha=5cd6\n" (9 bytes))"#
    );
    assert_eq!(
        d.actual,
        r#"wasi:io/streams@0.2.12.[method]output-stream.write(1 (stdout), "an extra line in v2\n" (20 bytes))"#
    );
    assert_eq!(
        d.detail.as_deref(),
        Some(
            r#"(differs in contents: the first 0 bytes are equal, then "sha=5cd6\n" recorded, "an extra lin…" now (9 bytes recorded, 20 now); encoded arguments: 11 bytes recorded, 22 now)"#
        )
    );
}

#[test]
fn another_function_is_a_divergence() {
    let bytes = trace(&[call(RANDOM, &[8]), ret(&[0])], true);
    let mut r = replayer(&bytes);
    let d = divergence(r.call(GET_STDERR, &[]).expect_err("diverges"));
    assert_eq!(d.entry, 0);
    assert_eq!(d.expected, "wasi:random/random@0.2.12.get-random-bytes(8)");
    assert_eq!(d.actual, "wasi:cli/stderr@0.2.12.get-stderr()");
    // An id outside the function table is named as such, not a panic.
    let bytes = trace(&[call(RANDOM, &[8]), ret(&[0])], true);
    let mut r = replayer(&bytes);
    let d = divergence(r.call(99, &[1, 2]).expect_err("diverges"));
    assert_eq!(d.actual, "<unknown function 99>(<2 bytes>)");
}

#[test]
fn a_call_after_the_recorded_end_is_a_divergence() {
    let bytes = trace(
        &[call(RANDOM, &[8]), ret(&[0]), Entry::Exit { code: 0 }],
        true,
    );
    let mut r = replayer(&bytes);
    r.call(RANDOM, &[8]).expect("matches");
    let d = divergence(r.call(RANDOM, &[8]).expect_err("one call too many"));
    assert_eq!(d.entry, 2);
    assert_eq!(d.expected, "the run ends: exit status 0");
    assert_eq!(d.actual, "wasi:random/random@0.2.12.get-random-bytes(8)");
}

#[test]
fn a_missing_call_is_a_divergence() {
    let bytes = trace(
        &[call(RANDOM, &[8]), ret(&[0]), Entry::Exit { code: 0 }],
        true,
    );
    let mut r = replayer(&bytes);
    let d = divergence(
        r.finish(&Finish::Returned(0))
            .expect_err("a call is missing"),
    );
    assert_eq!(d.entry, 0);
    assert_eq!(d.expected, "wasi:random/random@0.2.12.get-random-bytes(8)");
    assert_eq!(d.actual, "the run ends: exit status 0");
}

#[test]
fn another_ending_is_a_divergence() {
    let exit1 = trace(&[Entry::Exit { code: 1 }], true);
    let d = divergence(
        replayer(&exit1)
            .finish(&Finish::Returned(0))
            .expect_err("0 != 1"),
    );
    assert_eq!(
        (d.expected.as_str(), d.actual.as_str()),
        ("the run ends: exit status 1", "the run ends: exit status 0")
    );
    let d = divergence(
        replayer(&exit1)
            .finish(&Finish::Trapped("wasm trap: unreachable".into()))
            .expect_err("trap != exit"),
    );
    assert_eq!(d.actual, "the run ends: trap: wasm trap: unreachable");
    let trap = trace(
        &[Entry::Trap {
            message: "wasm trap: unreachable".into(),
        }],
        true,
    );
    replayer(&trap)
        .finish(&Finish::Trapped("wasm trap: unreachable".into()))
        .expect("the recorded trap");
    let d = divergence(
        replayer(&trap)
            .finish(&Finish::Trapped("wasm trap: out of fuel".into()))
            .expect_err("another trap"),
    );
    assert_eq!(d.expected, "the run ends: trap: wasm trap: unreachable");
}

#[test]
fn a_recorded_exit_or_host_trap_inside_a_call_ends_the_run() {
    let bytes = trace(&[call(EXIT, &[1]), Entry::Exit { code: 3 }], true);
    match replayer(&bytes).call(EXIT, &[1]) {
        Err(Stop::Exit(3)) => {}
        other => panic!("expected exit 3, got {other:?}"),
    }
    let bytes = trace(
        &[
            call(RANDOM, &[8]),
            Entry::Trap {
                message: "host failed".into(),
            },
        ],
        true,
    );
    match replayer(&bytes).call(RANDOM, &[8]) {
        Err(Stop::HostTrap(m)) => assert_eq!(m, "host failed"),
        other => panic!("expected a host trap, got {other:?}"),
    }
}

#[test]
fn entries_that_record_never_writes_are_errors() {
    // Something after the exit.
    let bytes = trace(
        &[
            call(EXIT, &[0]),
            Entry::Exit { code: 0 },
            call(RANDOM, &[8]),
        ],
        true,
    );
    let e = trace_error(replayer(&bytes).call(EXIT, &[0]).expect_err("bad trace"));
    assert!(e.contains("after the run's end"), "{e}");
    // A return without a call: the trace format itself has none (a return follows its call).
    let bytes = trace(&[ret(&[0])], true);
    let e = trace_error(replayer(&bytes).call(RANDOM, &[8]).expect_err("bad trace"));
    assert!(e.contains("entry 0 (in the block at byte"), "{e}");
    assert!(e.contains("a return with no call before it"), "{e}");
    // A call followed by another call.
    let bytes = trace(&[call(RANDOM, &[8]), call(RANDOM, &[8])], true);
    let e = trace_error(replayer(&bytes).call(RANDOM, &[8]).expect_err("bad trace"));
    assert!(e.contains("entry #1, after the call at entry #0"), "{e}");
    // No exit at all before the end marker.
    let bytes = trace(&[], true);
    let d = divergence(replayer(&bytes).call(RANDOM, &[8]).expect_err("bad trace"));
    assert_eq!(d.expected, "the end of the trace");
}

#[test]
fn a_cut_trace_says_where_it_ends() {
    let bytes = trace(&[call(RANDOM, &[8]), ret(&[0])], false);
    let mut r = replayer(&bytes);
    r.call(RANDOM, &[8]).expect("matches");
    let e = trace_error(r.call(RANDOM, &[4]).expect_err("cut"));
    assert!(
        e.contains("the trace t.bin ends at entry #2 (it was cut there"),
        "{e}"
    );
    assert!(e.contains("get-random-bytes(4)"), "{e}");
    // A recording that failed before the guest ran leaves a header and no entry.
    let bytes = trace(&[], false);
    let mut r = replayer(&bytes);
    let e = trace_error(r.call(RANDOM, &[4]).expect_err("empty"));
    assert!(
        e.contains("has no entries (it was cut): the recording stopped before the guest ran"),
        "{e}"
    );
}

/// Every prefix of a trace and every single flipped bit in it, compressed or not: an error, never
/// a panic, never a successful replay.
#[test]
fn every_truncation_and_every_flipped_bit_is_an_error() {
    for compression in [Compression::Zstd, Compression::None] {
        every_truncation_and_every_flipped_bit_is_an_error_with(compression);
    }
}

fn every_truncation_and_every_flipped_bit_is_an_error_with(compression: Compression) {
    let (entries, script) = printing_run();
    let bytes = trace_with(&entries, true, compression);
    let replay = |bytes: &[u8]| -> Result<(), String> {
        let reader = TraceReader::new(bytes).map_err(|e| e.to_string())?;
        let mut r = TraceSource::new(reader, "t");
        let run = |r: &mut TraceSource<&[u8]>| -> Result<(), Stop> {
            for (f, args) in &script {
                r.call(*f, args)?;
            }
            r.finish(&Finish::Returned(0))
        };
        run(&mut r).map_err(trace_error)
    };
    replay(&bytes).expect("the intact trace replays");
    for len in 0..bytes.len() {
        assert!(replay(&bytes[..len]).is_err(), "cut at {len}");
    }
    for i in 0..bytes.len() {
        for bit in [0x01, 0x80] {
            let mut flipped = bytes.clone();
            flipped[i] ^= bit;
            assert!(replay(&flipped).is_err(), "flipped {bit:#x} at byte {i}");
        }
    }
}

#[test]
fn reports_of_big_arguments_stay_short() {
    let big = vec![b'x'; 10_000];
    let mut args = vec![1, 0x90, 0x4e]; // id 1, length 10000
    args.extend_from_slice(&big);
    let bytes = trace(&[call(WRITE, &args), ret(&[0])], true);
    let mut other = args.clone();
    other[5000] = b'y';
    let d = divergence(replayer(&bytes).call(WRITE, &other).expect_err("diverges"));
    assert!(d.expected.chars().count() < 400, "{}", d.expected);
    assert!(
        d.expected.ends_with("(10000 bytes, 9928 characters cut))"),
        "{}",
        d.expected
    );
    assert_eq!(
        d.detail.as_deref(),
        Some(
            r#"(differs in contents: the first 4997 bytes are equal, then "xxxxxxxxxxxx…" recorded, "yxxxxxxxxxxx…" now (10000 bytes recorded, 10000 now); encoded arguments: 10003 bytes recorded, 10003 now)"#
        )
    );
    // Handle 1, then a list of MAX_DECODED_BYTES bytes (its length in LEB128).
    let mut huge = vec![1];
    let mut n = MAX_DECODED_BYTES;
    while n >= 0x80 {
        huge.push((n & 0x7f) as u8 | 0x80);
        n >>= 7;
    }
    huge.push(n as u8);
    huge.resize(huge.len() + MAX_DECODED_BYTES, 0);
    let bytes = trace(&[call(WRITE, &huge), ret(&[0])], true);
    let d = divergence(replayer(&bytes).call(RANDOM, &[8]).expect_err("diverges"));
    assert_eq!(
        d.expected,
        format!(
            "wasi:io/streams@0.2.12.[method]output-stream.write(<{} bytes of values>)",
            huge.len()
        )
    );
}

#[test]
fn roles_follow_the_wasi_names_and_types() {
    let roles = OutputMirror::new(&info(), Output::Discard).roles();
    assert_eq!(
        roles,
        [
            output::Role::GetStdout,
            output::Role::GetStderr,
            output::Role::Write,
            output::Role::Write,
            output::Role::Other,
            output::Role::NewOutputStream,
            output::Role::Other
        ]
    );
}
