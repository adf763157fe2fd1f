//! The trace format under damage: every truncation point, every flipped byte, bogus lengths.

use recorder_host::trace::*;
use recorder_host::types::*;
use std::io::Cursor;

/// `[method]output-stream.write` (id 0) and `[method]output-stream.blocking-write-and-flush`
/// (id 1): `(contents: list<u8>) -> u64`, as the entries' values are typed.
fn write_function(name: &str) -> FunctionInfo {
    FunctionInfo {
        name: format!("[method]output-stream.{name}"),
        kind: FuncKind::Method(ResourceRef {
            interface: Some("wasi:io/streams@0.2.6".into()),
            name: "output-stream".into(),
        }),
        params: vec![("contents".into(), ValueType::List(Box::new(ValueType::U8)))],
        result: Some(ValueType::U64),
    }
}

/// `bytes` as an encoded `list<u8>` of fewer than 128 bytes: its length, then the bytes.
fn list(bytes: &[u8]) -> Vec<u8> {
    assert!(bytes.len() < 128);
    let mut out = vec![bytes.len() as u8];
    out.extend_from_slice(bytes);
    out
}

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
                functions: vec![
                    write_function("write"),
                    write_function("blocking-write-and-flush"),
                ],
            }],
            ..Default::default()
        }
        .into(),
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
            args: list(b"hello"),
        },
        Entry::Return {
            // u64::MAX: ten bytes of LEB128.
            results: [vec![0xff; 9], vec![0x01]].concat(),
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

const COMPRESSIONS: [Compression; 2] = [Compression::None, Compression::Zstd];

/// A trace of `entries()` with each entry in a block of its own (the writer flushed after each, as
/// the recorder does before a call that may block); without `finish`, as a process killed after
/// its last flush leaves it: every block but the end marker's.
fn write_trace_with(compression: Compression, finish: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut w = TraceWriter::new(&mut bytes, &header())
        .unwrap()
        .with_compression(compression);
    for e in entries() {
        w.append(&e).unwrap();
        w.flush().unwrap();
    }
    assert_eq!(w.entries(), 6);
    if finish {
        w.finish().unwrap();
    } else {
        drop(w);
    }
    bytes
}

fn write_trace(finish: bool) -> Vec<u8> {
    write_trace_with(Compression::default(), finish)
}

/// Where the first block starts (past the header frame).
fn block_start(bytes: &[u8]) -> usize {
    MAGIC.len() + 8 + u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize
}

/// Where each block of a trace ends (its offset past the block), in order.
fn block_ends(bytes: &[u8]) -> Vec<usize> {
    let mut at = block_start(bytes);
    let mut ends = vec![];
    while at < bytes.len() {
        let stored = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 13 + stored;
        ends.push(at);
    }
    ends
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

    // Cut in the middle of the sixth entry's block: the five before it are read.
    let full = write_trace(true);
    let ends = block_ends(&full);
    assert_eq!(ends.len(), 7, "a block per entry and the end marker's");
    let mid = ends[5] - 3;
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
    let torn = (mid - ends[4]) as u64;
    assert!(
        matches!(err, TraceError::Cut { complete: 5, torn_bytes } if torn_bytes == torn),
        "{err}"
    );
}

#[test]
fn a_trace_without_end_marker_is_reported_cut_after_its_complete_entries() {
    for compression in COMPRESSIONS {
        let bytes = write_trace_with(compression, false);
        let (h, got, err) = read_all(&bytes);
        assert!(h.is_ok());
        assert_eq!(got, entries());
        let err = err.expect("cut must be reported");
        assert!(err.contains("6 complete entries"), "{err}");
    }
}

/// A cut anywhere reads exactly the entries of the blocks before it, and says how many.
#[test]
fn every_truncation_point_reads_the_complete_blocks_and_never_panics() {
    for compression in COMPRESSIONS {
        let bytes = write_trace_with(compression, true);
        let ends = block_ends(&bytes);
        let all = entries();
        for cut in 0..bytes.len() {
            let (h, got, err) = read_all(&bytes[..cut]);
            if h.is_err() {
                assert!(
                    cut < block_start(&bytes),
                    "{compression:?}: header unreadable at {cut}"
                );
                continue; // header itself cut: a clear error
            }
            let complete = ends.iter().filter(|&&end| end <= cut).count();
            assert_eq!(got[..], all[..complete], "{compression:?}: cut at {cut}");
            let err =
                err.unwrap_or_else(|| panic!("{compression:?}: cut at {cut} read as complete"));
            assert!(
                err.contains(&format!("with {complete} complete entries")),
                "{compression:?}: cut at {cut}: {err}"
            );
        }
    }
}

/// Entries packed many to a block (no flush between them) read back; a cut in a block loses
/// the block, never a part of an entry.
#[test]
fn packed_blocks_round_trip_and_cut_whole() {
    for compression in COMPRESSIONS {
        let mut w = TraceWriter::new(Vec::new(), &header())
            .unwrap()
            .with_compression(compression);
        let mut expected = vec![];
        for i in 0..20000u32 {
            let args = list(format!("line {i}\n").as_bytes());
            w.append_call_return(i % 2, &args, &[0]).unwrap();
            expected.push(Entry::Call { func: i % 2, args });
            expected.push(Entry::Return { results: vec![0] });
        }
        let bytes = w.finish().unwrap();
        let (_, got, err) = read_all(&bytes);
        assert_eq!(err, None);
        assert_eq!(got, expected);
        let mut r = TraceReader::from_slice(&bytes).unwrap();
        while r.next_entry_ref().unwrap().is_some() {}
        let (raw, stored) = r.block_sizes();
        let ends = block_ends(&bytes);
        assert_eq!(stored + block_start(&bytes) as u64, bytes.len() as u64);
        if compression == Compression::Zstd {
            assert!(stored * 5 < raw, "{stored} stored for {raw}");
        } else {
            assert_eq!(stored, raw + 13 * ends.len() as u64);
        }
        // Cut in the last block: every entry of the blocks before it, and no other.
        assert!(ends.len() >= 2, "{compression:?}: {} blocks", ends.len());
        let (_, got, err) = read_all(&bytes[..ends[ends.len() - 2] + 20]);
        assert!(err.unwrap().contains("cut off"));
        assert!(!got.is_empty() && got.len() < expected.len());
        assert_eq!(got[..], expected[..got.len()]);
    }
}

#[test]
fn every_flipped_byte_is_detected() {
    for compression in COMPRESSIONS {
        let bytes = write_trace_with(compression, true);
        let ends = block_ends(&bytes);
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x20;
            let (h, got, err) = read_all(&damaged);
            // Either the header or some block fails, or a length changed so the trace reads as
            // cut; never a silently different or complete trace, and the entries read are those
            // of the blocks before the damaged one.
            if h.is_err() {
                assert!(i < block_start(&bytes), "{compression:?}: flip at {i}");
                continue;
            }
            let err = err.unwrap_or_else(|| panic!("{compression:?}: flip at {i} went unnoticed"));
            let block = ends.iter().filter(|&&end| end <= i).count();
            assert_eq!(
                got[..],
                entries()[..block],
                "{compression:?}: flip at {i}: {err}"
            );
            let at = match block {
                0 => block_start(&bytes),
                n => ends[n - 1],
            };
            assert!(
                err.contains(&format!("block at byte {at}")) || err.contains("cut off"),
                "{compression:?}: flip at {i}: {err}"
            );
        }
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
    // Another format version, newer or older: refused by the version, the header's first
    // bytes in every format (format 5's header frame was the header's bincode bytes).
    let version_99 = header_frame(&[99, 0, 0, 0, 0, 0]);
    assert!(
        err(&version_99).contains("trace format version 99 is not supported"),
        "{}",
        err(&version_99)
    );
    let mut h = header();
    h.format_version = 5;
    let format_5 =
        header_frame(&bincode::serde::encode_to_vec(&h, bincode::config::standard()).unwrap());
    assert!(
        err(&format_5).contains("trace format version 5 is not supported"),
        "{}",
        err(&format_5)
    );
    // A header that says another version inside than its frame does.
    h.format_version = 99;
    let w = TraceWriter::new(Vec::new(), &h).unwrap().finish().unwrap();
    assert!(err(&w).contains("it says format 99 inside"), "{}", err(&w));
    // Cut after the version, an unknown codec.
    for (payload, expected) in [
        (&[FORMAT_VERSION as u8][..], "ends after its version"),
        (&[FORMAT_VERSION as u8, 0, 1], "ends before its length"),
        (&[FORMAT_VERSION as u8, 9, 1, 0, 0, 0, 7], "unknown codec 9"),
        (
            &[FORMAT_VERSION as u8, 0, 2, 0, 0, 0, 7],
            "2 bytes stored raw in 1",
        ),
    ] {
        let e = err(&header_frame(payload));
        assert!(e.contains(expected), "{expected}: {e}");
    }
}

/// A trace of just a header frame holding `payload`, with a right CRC.
fn header_frame(payload: &[u8]) -> Vec<u8> {
    let mut b = MAGIC.to_vec();
    b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    b.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    b.extend_from_slice(payload);
    b
}

/// A block of `data` stored with `codec`, claiming `raw_len` bytes of entries, with a right CRC.
fn block(codec: u8, raw_len: u32, data: &[u8]) -> Vec<u8> {
    let mut b = (data.len() as u32).to_le_bytes().to_vec();
    b.extend_from_slice(&raw_len.to_le_bytes());
    b.push(codec);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&b);
    crc.update(data);
    b.extend_from_slice(&crc.finalize().to_le_bytes());
    b.extend_from_slice(data);
    b
}

/// Blocks whose checksum is right but whose lengths or data are not: each is reported, as the
/// block at its offset, and nothing is allocated for a length that is not there.
#[test]
fn bad_blocks_are_reported_without_allocating_their_claims() {
    let mut w = TraceWriter::new(Vec::new(), &header())
        .unwrap()
        .with_compression(Compression::None);
    w.append(&Entry::Exit { code: 0 }).unwrap();
    w.flush().unwrap();
    // The header and a block holding `Exit`: what the bad block follows.
    let good = w.finish().unwrap();
    let good = &good[..block_ends(&good)[0]];
    let zeros = vec![0u8; 100_000];
    let packed = zstd::bulk::compress(&zeros, 1).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            block(0, 5, b"abcd"),
            "a raw block of 5 bytes claims to store 4",
        ),
        (block(0, 0, b""), "an empty block"),
        (block(7, 4, b"abcd"), "unknown block codec 7"),
        (block(1, 4, b"abcd"), "claims to store 4"),
        (block(1, u32::MAX, &packed), "over the"),
        // 100 000 zeros claimed as fewer or more bytes: stopped past the claim / short of it.
        (block(1, 1000, &packed), "more than its claimed 1000 bytes"),
        (block(1, 200_000, &packed), "not its claimed 200000"),
        (block(1, 1 << 27, &packed), "not its claimed 134217728"),
        (block(1, 1000, &[0xff; 50]), "cannot decompress"),
        // An entry that does not decode, in a sound block.
        (block(0, 2, &[200, 1]), "entry 1 (in the block at byte"),
    ];
    for (bad, expected) in cases {
        let mut bytes = good.to_vec();
        let at = bytes.len();
        bytes.extend_from_slice(&bad);
        // As a stream (length unknown) and as a file.
        let mut r = TraceReader::new(Cursor::new(bytes.clone())).unwrap();
        assert_eq!(r.next_entry().unwrap(), Some(Entry::Exit { code: 0 }));
        let err = r.next_entry().unwrap_err().to_string();
        assert!(err.contains(expected), "{expected}: {err}");
        assert!(err.contains(&format!("at byte {at}")), "{expected}: {err}");
        assert!(r.next_entry().unwrap().is_none(), "reading stops there");
        let mut r = TraceReader::from_slice(&bytes).unwrap();
        assert_eq!(r.next_entry().unwrap(), Some(Entry::Exit { code: 0 }));
        let err = r.next_entry().unwrap_err().to_string();
        assert!(err.contains(expected), "{expected}: {err}");
    }
}

/// A header of many small values (a large component's many functions and types) reads back:
/// bincode counts each decoded integer against the decoding limit at its size in memory (a
/// string's length as 8 bytes, a variant index as 4) however few bytes encode it, so the limit
/// must leave room for that (the componentize-py guest's 52 KB header failed with
/// `LimitExceeded` under a limit of its size rounded up to 64 KiB).
#[test]
fn a_header_of_many_small_values_reads_back() {
    for count in [1, 1_000, 20_000, 100_000, 1_000_000] {
        let mut h = header();
        h.argv = vec!["a".to_string(); count];
        let bytes = TraceWriter::new(Vec::new(), &h).unwrap().finish().unwrap();
        let r = TraceReader::from_slice(&bytes).unwrap_or_else(|e| panic!("{count}: {e}"));
        assert_eq!(r.header(), &h);
    }
}
