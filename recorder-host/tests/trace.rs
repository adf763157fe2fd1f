//! The trace format under damage: every truncation point, every flipped byte, bogus lengths.

use recorder_host::trace::*;
use recorder_host::types::*;
use std::io::Cursor;

fn header() -> Header {
    Header {
        format_version: FORMAT_VERSION,
        proxyrt_version: "test".into(),
        component_sha256: [7; 32],
        interface_sha256: [9; 32],
        component: ComponentInfo {
            imported_interfaces: vec![InterfaceInfo {
                name: "wasi:io/streams@0.2.6".into(),
                package: Some("wasi:io".into()),
                interface: Some("streams".into()),
                version: Some("0.2.6".into()),
                resources: vec!["output-stream".into()],
                functions: vec![FunctionInfo {
                    name: "[method]output-stream.write".into(),
                    kind: FuncKind::Method(ResourceRef {
                        interface: Some("wasi:io/streams@0.2.6".into()),
                        name: "output-stream".into(),
                    }),
                    params: vec![("contents".into(), ValueType::List(Box::new(ValueType::U8)))],
                    result: Some(ValueType::U64),
                }],
            }],
            ..Default::default()
        },
        argv: vec!["app.wasm".into(), "x".into()],
        request: Some(HttpRequestLine {
            method: "POST".into(),
            uri: "http://127.0.0.1:8080/a?b=c".into(),
        }),
    }
}

fn entries() -> Vec<Entry> {
    vec![
        Entry::Call {
            func: 0,
            args: b"hello".to_vec(),
        },
        Entry::Return {
            results: vec![0; 300],
        },
        Entry::ExportCall {
            func: 0,
            args: vec![],
        },
        Entry::ExportReturn {
            results: vec![1, 2, 3],
        },
        Entry::Trap {
            message: "unreachable".into(),
        },
        Entry::Exit { code: 3 },
    ]
}

/// A trace of `entries()`; without `finish`, as a process killed after its last append leaves it:
/// every frame but the end marker.
fn write_trace(finish: bool) -> Vec<u8> {
    let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
    for e in entries() {
        w.append(&e).unwrap();
    }
    assert_eq!(w.entries(), 6);
    let mut bytes = w.finish().unwrap();
    if !finish {
        // Walk the frames and drop the last one, the end marker.
        let (mut pos, mut last) = (MAGIC.len(), MAGIC.len());
        while pos < bytes.len() {
            last = pos;
            let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            pos += 8 + len;
        }
        bytes.truncate(last);
    }
    bytes
}

fn read_all(bytes: &[u8]) -> (Result<Header, String>, Vec<Entry>, Option<String>) {
    let mut r = match TraceReader::new(Cursor::new(bytes)) {
        Ok(r) => r,
        Err(e) => return (Err(e.to_string()), vec![], None),
    };
    let h = r.header().clone();
    let mut got = vec![];
    loop {
        match r.next_entry() {
            Ok(Some(e)) => got.push(e),
            Ok(None) => return (Ok(h), got, None),
            Err(e) => return (Ok(h), got, Some(e.to_string())),
        }
    }
}

#[test]
fn round_trip() {
    let bytes = write_trace(true);
    let (h, got, err) = read_all(&bytes);
    assert_eq!(h.unwrap(), header());
    assert_eq!(got, entries());
    assert_eq!(err, None);
}

/// Borrowed reads give the same entries as owned ones, and encode the same.
#[test]
fn borrowed_reads_match_owned_entries() {
    let bytes = write_trace(true);
    let mut r = TraceReader::new(Cursor::new(&bytes)).unwrap();
    for expected in entries() {
        let got = r.next_entry_ref().unwrap().expect("an entry");
        assert_eq!(got.to_entry(), expected);
    }
    assert!(r.next_entry_ref().unwrap().is_none());
}

/// The borrowed-bytes appends write byte for byte what appending the owned entries writes.
#[test]
fn borrowed_appends_write_the_same_bytes() {
    let mut owned = TraceWriter::new(Vec::new(), &header()).unwrap();
    let mut borrowed = TraceWriter::new(Vec::new(), &header()).unwrap();
    let (args, results) = (b"hello".to_vec(), vec![0u8; 300]);
    let calls = [
        (0, &args, &results),
        (7, &vec![], &vec![]),
        (300, &results, &args),
        (1, &args, &results),
    ];
    for (i, &(func, args, results)) in calls.iter().enumerate() {
        let args = args.clone();
        let results = results.clone();
        owned
            .append(&Entry::Call {
                func,
                args: args.clone(),
            })
            .unwrap();
        owned
            .append(&Entry::Return {
                results: results.clone(),
            })
            .unwrap();
        // The last one in two appends, the others in one.
        if i + 1 < calls.len() {
            borrowed.append_call_return(func, &args, &results).unwrap();
        } else {
            borrowed.append_call(func, &args).unwrap();
            borrowed.append_return(&results).unwrap();
        }
    }
    assert_eq!(owned.entries(), borrowed.entries());
    assert_eq!(owned.finish().unwrap(), borrowed.finish().unwrap());
}

#[test]
fn file_round_trip_and_cut_detection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.bin");
    let mut w = TraceWriter::create(&path, &header()).unwrap();
    for e in entries() {
        w.append(&e).unwrap();
    }
    w.finish().unwrap();
    let r = TraceReader::open(&path).unwrap();
    let got: Result<Vec<_>, _> = r.collect();
    assert_eq!(got.unwrap(), entries());

    // Cut in the middle of the fourth entry's payload.
    let full = std::fs::read(&path).unwrap();
    let cut = write_trace(false);
    let mid = cut.len() - 3;
    std::fs::write(&path, &full[..mid]).unwrap();
    let mut r = TraceReader::open(&path).unwrap();
    let mut n = 0;
    let err = loop {
        match r.next_entry() {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("a cut trace must not look complete"),
            Err(e) => break e,
        }
    };
    assert_eq!(n, 5);
    assert!(
        matches!(err, TraceError::Cut { complete: 5, torn_bytes } if torn_bytes > 0),
        "{err}"
    );
}

#[test]
fn a_trace_without_end_marker_is_reported_cut_after_its_complete_entries() {
    let bytes = write_trace(false);
    let (h, got, err) = read_all(&bytes);
    assert!(h.is_ok());
    assert_eq!(got, entries());
    let err = err.expect("cut must be reported");
    assert!(err.contains("6 complete entries"), "{err}");
}

#[test]
fn every_truncation_point_reads_a_prefix_and_never_panics() {
    let bytes = write_trace(true);
    let all = entries();
    for cut in 0..bytes.len() {
        let (h, got, err) = read_all(&bytes[..cut]);
        if h.is_err() {
            continue; // header itself cut: a clear error
        }
        assert!(got.len() <= all.len());
        assert_eq!(got[..], all[..got.len()], "cut at {cut}");
        assert!(err.is_some(), "cut at {cut} read as complete");
    }
}

#[test]
fn every_flipped_byte_is_detected() {
    let bytes = write_trace(true);
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x20;
        let (h, got, err) = read_all(&damaged);
        // Either the header or some entry fails, or a length field changed so the trace reads as
        // cut/corrupt; never a silently different, complete trace.
        let silently_ok =
            h.as_ref().is_ok_and(|h| *h == header()) && err.is_none() && got == entries();
        assert!(
            !silently_ok || damaged == bytes,
            "flip at {i} went unnoticed"
        );
        assert!(
            !(err.is_none() && h.is_ok() && got != entries()),
            "flip at {i} changed the data silently"
        );
    }
}

#[test]
fn bad_files_give_clear_errors() {
    let err = |b: &[u8]| match TraceReader::new(Cursor::new(b.to_vec())) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err(b"").contains("not a proxyrt trace"));
    assert!(err(b"\0asm\x01\0\0\0").contains("not a proxyrt trace"));
    // Huge length prefix for the header: rejected without allocating it.
    let mut huge = MAGIC.to_vec();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    huge.extend_from_slice(&[0; 4]);
    assert!(err(&huge).contains("exceeds"), "{}", err(&huge));
    let mut just_under = MAGIC.to_vec();
    just_under.extend_from_slice(&(MAX_FRAME_LEN).to_le_bytes());
    just_under.extend_from_slice(&[0; 4]);
    assert!(err(&just_under).contains("cut off"), "{}", err(&just_under));
    // Another format version.
    let mut h = header();
    h.format_version = 99;
    let w = TraceWriter::new(Vec::new(), &h).unwrap().finish().unwrap();
    assert!(err(&w).contains("version 99"), "{}", err(&w));
}
